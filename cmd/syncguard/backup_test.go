package main

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// portal is a signed-in browser of a running serve, without JavaScript.
type portal struct {
	t   *testing.T
	url string
	hc  *http.Client
}

// signIn signs in at url through the sign-in form.
func signIn(t *testing.T, base, name, password string) (*portal, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	p := &portal{t: t, url: base, hc: &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	tok, err := p.token("/login")
	if err != nil {
		return nil, err
	}
	resp, err := p.hc.PostForm(base+"/login", url.Values{"username": {name}, "password": {password}, "_csrf": {tok}})
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/configurations" {
		return nil, fmt.Errorf("sign in as %s: %s, to %q", name, resp.Status, resp.Header.Get("Location"))
	}
	return p, nil
}

// token reads the CSRF token of the forms of a page.
func (p *portal) token(path string) (string, error) {
	resp, err := p.hc.Get(p.url + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		return "", err
	}
	tok, ok := doc.Find(`input[name="_csrf"]`).First().Attr("value")
	if !ok {
		return "", fmt.Errorf("GET %s: %s, no _csrf field", path, resp.Status)
	}
	return tok, nil
}

// post submits a form of configuration 1 (action "basics", "sync") as an
// admin does, and wants the redirect that follows success.
func (p *portal) post(action string, form url.Values) error {
	resp, err := p.hc.PostForm(p.url+"/configurations/1/"+action, form)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("POST %s: %s", action, resp.Status)
	}
	return nil
}

// saveBasics saves the Basics of configuration 1, prevention off.
func (p *portal) saveBasics(tok string, threshold int) error {
	return p.post("basics", url.Values{"_csrf": {tok}, "email": {"ops@corp.example"}, "threshold": {fmt.Sprint(threshold)}})
}

// committed reads a database's cycles and checks that they add up: the
// provisioning log holds an entry per change of every recorded cycle, and
// the target directory what their creates and deletes leave. A part of a
// cycle would break one or the other.
func committed(t *testing.T, path string) (cycles, objects int, err error) {
	t.Helper()
	db := readOnly(t, path)
	defer db.Close()
	var check string
	var logs, changes, created, deleted int
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		return 0, 0, fmt.Errorf("integrity_check: %q, %v", check, err)
	}
	if err := db.QueryRow(`SELECT count(*), coalesce(sum(creates + updates + deletes + staged_deletes), 0),
		coalesce(sum(creates), 0), coalesce(sum(deletes), 0), (SELECT count(*) FROM provisioning_log),
		(SELECT count(*) FROM target_objects) FROM cycles`).Scan(&cycles, &changes, &created, &deleted, &logs, &objects); err != nil {
		t.Fatal(err)
	}
	if logs != changes || objects != created-deleted {
		return cycles, objects, fmt.Errorf("%d cycles of %d changes but %d log entries; %d created, %d deleted but %d objects",
			cycles, changes, logs, created, deleted, objects)
	}
	return cycles, objects, nil
}

// basicsState reads the threshold of configuration 1 and how many Basics
// edits the audit log holds.
func basicsState(t *testing.T, path string) (threshold, edits int) {
	t.Helper()
	db := readOnly(t, path)
	defer db.Close()
	if err := db.QueryRow(`SELECT threshold, (SELECT count(*) FROM audit_events WHERE action = 'Edited Basics')
		FROM configurations WHERE id = 1`).Scan(&threshold, &edits); err != nil {
		t.Fatal(err)
	}
	return threshold, edits
}

const adminPassword = "correct horse battery staple"

// syncguard backup, run while serve's cycles write — the first over
// 100,000 users, then one deleting an OU of 25,000 from them — and an
// admin saves Basics again and again in the portal: every backup is
// owner-only, passes integrity_check and holds one committed state: each
// cycle whole or not at all, the threshold that of the last Basics edit
// it holds.
func TestBackupDuringCycleAndBasics(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// The source is a link, pointed elsewhere for the second cycle: the
	// configuration itself is not edited while Basics are saved.
	source := h.path("source.ldif")
	if err := os.Symlink(bigLDIF(t), source); err != nil {
		t.Fatal(err)
	}
	h.addCorp(source, "--interval", "1h", "--threshold", "999")
	if r := h.runIn(adminPassword+"\n", "user", "add", "alice", "--role", "admin"); r.code != 0 {
		t.Fatal(r)
	}
	env := []string{"SYNCGUARD_DB=" + h.db}
	serve, base := startServe(t, env)
	admin, err := signIn(t, base, "alice", adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := admin.token("/configurations/1")
	if err != nil {
		t.Fatal(err)
	}
	var saves atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := admin.saveBasics(tok, 1000+i); err != nil {
				t.Errorf("save %d: %v", i, err)
				return
			}
			saves.Add(1)
		}
	})

	var backups []string
	backup := func() {
		b := filepath.Join(h.dir, fmt.Sprintf("backup-%d.db", len(backups)))
		p := startProc(t, env, "backup", "--to", b)
		if code := p.wait(5 * time.Minute); code != 0 {
			t.Fatalf("backup: exit %d\n%s", code, p.output())
		}
		if !strings.Contains(p.output(), "integrity ok") || !strings.Contains(p.output(), "NOT in the backup") {
			t.Errorf("backup said:\n%s", p.output())
		}
		backups = append(backups, b)
	}
	// Back up until the cycle's line is logged: the cycle has committed.
	backupsDuring := func(n int) {
		serve.waitUntil(fmt.Sprintf("cycle %d", n), 5*time.Minute, func() bool { return leaseHeld(t, h.db) })
		for strings.Count(serve.output(), `"msg":"cycle"`) < n {
			backup()
		}
	}
	backupsDuring(1)
	// The next cycle loses an OU: 25,000 deletions (prevention is off).
	link := h.path("source.ldif.new")
	if err := os.Symlink(writeLDIFWithout(t, bigLDIF(t), removedOU), link); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(link, source); err != nil {
		t.Fatal(err)
	}
	if err := admin.post("sync", url.Values{"_csrf": {tok}}); err != nil {
		t.Fatal(err)
	}
	backupsDuring(2)
	backup()
	close(stop)
	wg.Wait()
	serve.signal(syscall.SIGTERM)
	if code := serve.wait(time.Minute); code != 0 {
		t.Fatalf("serve: exit %d\n%s", code, serve.output())
	}

	held := map[string]int{}
	for _, b := range backups {
		if fi, err := os.Stat(b); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", b, fi.Mode(), err)
		}
		cycles, objects, err := committed(t, b)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(b), err)
		}
		held[fmt.Sprintf("%d cycles, %d objects", cycles, objects)]++
		threshold, edits := basicsState(t, b)
		if want := 1000 + edits; edits > 0 && threshold != want || edits == 0 && threshold != 999 {
			t.Errorf("%s: threshold %d with %d Basics edits: not one committed state", b, threshold, edits)
		}
	}
	t.Logf("%d Basics saves; %d backups hold: %v", saves.Load(), len(backups), held)
	for _, want := range []string{"0 cycles, 0 objects", fmt.Sprintf("1 cycles, %d objects", bigObjects),
		fmt.Sprintf("2 cycles, %d objects", bigObjects-bigUsers/len(testOUs))} {
		if held[want] == 0 {
			t.Errorf("no backup holds %s", want)
		}
	}
	if saves.Load() < int64(len(backups)) {
		t.Errorf("only %d Basics saves during %d backups", saves.Load(), len(backups))
	}
}

// restore-backup: refused while serve runs (nothing changes), done once it
// is stopped, the old database kept aside; serve then syncs from the
// restored database. Restored into a fresh folder, the database needs its
// key, and says so until it has it.
func TestRestoreBackupRoundTrip(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	full := writeLDIF(t, h.dir)
	pw := h.path("bind-password")
	if err := os.WriteFile(pw, []byte("Bind-Secret-77\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.addCorp(full, "--interval", "1s", "--bind-dn", "cn=sync,"+testBase, "--bind-password-file", pw)
	h.ok("sync", "corp")
	backup := h.path("corp.backup")
	if r := h.ok("backup", "--to", backup); !strings.Contains(r.stdout, "encrypted with key") {
		t.Errorf("backup said:\n%s", r.stdout)
	}
	// Changed after the backup.
	h.ok("config", "set", "corp", "--source", "ldif:"+writeLDIFWithout(t, full, removedOU), "--prevent=false")
	h.ok("sync", "corp")
	if got := h.status("corp").Objects; got != testTotal-removedUsers {
		t.Fatalf("after the change: %d objects", got)
	}

	env := []string{"SYNCGUARD_DB=" + h.db}
	serve, _ := startServe(t, env)
	r := h.run("restore-backup", "--from", backup)
	if r.code != exitError || !strings.Contains(r.stderr, fmt.Sprintf("process %d (syncguard", serve.cmd.Process.Pid)) ||
		!strings.Contains(r.stderr, "stop it first") {
		t.Errorf("restore-backup while serve runs: %s\nwant exit 1 naming serve's process", r)
	}
	if got := h.status("corp").Objects; got != testTotal-removedUsers {
		t.Errorf("a refused restore changed the database: %d objects", got)
	}
	serve.signal(syscall.SIGTERM)
	if code := serve.wait(time.Minute); code != 0 {
		t.Fatalf("serve: exit %d\n%s", code, serve.output())
	}

	r = h.ok("restore-backup", "--from", backup)
	for _, want := range []string{"restored " + h.db, "integrity ok", "kept as " + h.db + ".before-restore-", "encrypted with key"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("restore-backup said:\n%s\nwant %q", r.stdout, want)
		}
	}
	if got := h.status("corp").Objects; got != testTotal {
		t.Errorf("restored: %d objects, want %d", got, testTotal)
	}
	serve, _ = startServe(t, env)
	serve.waitFor("a cycle on the restored database", 2*time.Minute, isCycleLine("Succeeded"))
	serve.signal(syscall.SIGTERM)
	if code := serve.wait(time.Minute); code != 0 {
		t.Fatalf("serve on the restored database: exit %d\n%s", code, serve.output())
	}

	// A fresh folder: without the key the secrets are unreadable, and
	// syncguard says which key it needs; with it, it syncs.
	fresh := filepath.Join(t.TempDir(), "syncguard.db")
	f := &harness{t: t, dir: filepath.Dir(fresh), db: fresh, env: map[string]string{"SYNCGUARD_DB": fresh}}
	r = f.ok("restore-backup", "--from", backup)
	if !strings.Contains(r.stdout, "cannot be read") {
		t.Errorf("restore into a fresh folder without the key said:\n%s", r.stdout)
	}
	if r := f.want(exitError, "status", "corp"); !strings.Contains(r.stderr, "does not exist, but this database holds secrets") {
		t.Errorf("status without the key: %s", r)
	}
	copyFile(t, h.path("syncguard.key"), f.path("syncguard.key"))
	if r := f.ok("sync", "corp"); !strings.Contains(r.stdout, "Succeeded") {
		t.Errorf("sync on the restored copy: %s", r)
	}
}
