package main

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/smtp/smtptest"
	"github.com/syncguard/syncguard/store"
)

// serve logs one line per cycle with its counts and outcome, in text or
// JSON (--log-format, SYNCGUARD_LOG_FORMAT), and no secret in any line:
// not the bind passwords (of a configuration that syncs and of one whose
// server is down), not the SMTP password (the server refuses the mail),
// not the secret key.
func TestLogsOneLinePerCycleNoSecret(t *testing.T) {
	t.Parallel()
	const bindSecret, smtpSecret = "Bind-Secret-Log-31", "Smtp-Secret-Log-47"
	h := newHarness(t)
	srv := smtptest.Start(t, smtptest.Options{User: "mailer", Password: "another password"})
	for name, secret := range map[string]string{"bind": bindSecret, "smtp": smtpSecret} {
		if err := os.WriteFile(h.path(name), []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	full := writeLDIF(t, h.dir)
	h.addCorp(full, "--interval", "1s", "--email", "ops@corp.example", "--bind-dn", "cn=sync,"+testBase, "--bind-password-file", h.path("bind"))
	h.ok("sync", "corp")
	h.ok("config", "set", "corp", "--source", "ldif:"+writeLDIFWithout(t, full, removedOU)) // the next cycle quarantines
	// A server that is down: the cycle fails, its error is logged.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	h.ok("config", "add", "down", "--source", "ldap://"+down, "--base-dn", testBase, "--interval", "1s",
		"--bind-dn", "cn=sync,"+testBase, "--bind-password-file", h.path("bind"))
	key, err := os.ReadFile(h.path("syncguard.key"))
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{bindSecret, smtpSecret, string(key), hex.EncodeToString(key), base64.StdEncoding.EncodeToString(key),
		base64.RawStdEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key)}

	for _, format := range []string{"json", "text"} {
		outcome := "Quarantined"
		if format == "text" {
			// Back to the whole directory: the cycles succeed.
			h.ok("config", "set", "corp", "--source", "ldif:"+full)
			h.ok("restart", "corp", "--yes")
			outcome = "Succeeded"
		}
		env := []string{"SYNCGUARD_DB=" + h.db, "SYNCGUARD_LOG_FORMAT=" + format, "SYNCGUARD_SMTP_PASSWORD_FILE=" + h.path("smtp")}
		p := startProc(t, env, "serve", "--addr", "127.0.0.1:0", "--tick", "50ms", "--smtp-host", srv.Host,
			"--smtp-port", fmt.Sprint(srv.Port), "--smtp-tls", "none", "--smtp-user", "mailer")
		if format == "json" {
			p.waitContains(`"outcome":"Quarantined"`, time.Minute)
			p.waitContains(`"outcome":"Failed"`, time.Minute)
			p.waitContains(`notification not sent`, time.Minute) // the SMTP server refuses the password
		} else {
			p.waitContains(`outcome=`+outcome, time.Minute)
			p.waitContains(`outcome=Failed`, time.Minute)
		}
		p.signal(syscall.SIGTERM)
		if code := p.wait(time.Minute); code != 0 {
			t.Fatalf("%s: exit %d\n%s", format, code, p.output())
		}
		out := p.output()
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("--log-format %s: a secret is in the log:\n%s", format, out)
			}
		}
		cycles := 0
		for l := range strings.Lines(out) {
			if format == "json" && strings.HasPrefix(l, "{") {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Errorf("not a JSON line: %s", l)
					continue
				}
				if m["msg"] != "cycle" {
					continue
				}
				cycles++
				for _, k := range []string{"config", "cycle", "outcome", "read", "creates", "updates", "deletes", "staged"} {
					if _, ok := m[k]; !ok {
						t.Errorf("cycle line without %q: %s", k, l)
					}
				}
			}
			if format == "text" && strings.Contains(l, "msg=cycle ") {
				cycles++
				for _, k := range []string{"config=", "cycle=", "outcome=", "read=", "creates=", "updates=", "deletes=", "staged="} {
					if !strings.Contains(l, k) {
						t.Errorf("cycle line without %s: %s", k, l)
					}
				}
			}
		}
		if cycles < 2 {
			t.Errorf("--log-format %s: %d cycle lines, want one per cycle (2):\n%s", format, cycles, out)
		}
	}
	if r := h.want(exitUsage, "--log-format", "xml", "status", "corp"); !strings.Contains(r.stderr, "neither text nor json") {
		t.Errorf("--log-format xml: %s", r)
	}
}

// serve tells systemd READY=1 once it serves and STOPPING=1 when it stops,
// on the datagram socket $NOTIFY_SOCKET names.
func TestSdNotify(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sock := filepath.Join(h.dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	h.env["NOTIFY_SOCKET"] = sock
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		env := h.env
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, io.Discard)
	}()
	read := func() string {
		conn.SetReadDeadline(time.Now().Add(time.Minute))
		b := make([]byte, 4096)
		n, err := conn.Read(b)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(b[:n])
	}
	if got := read(); !strings.HasPrefix(got, "READY=1\nSTATUS=serving at http://") {
		t.Errorf("first notification %q, want READY=1 and the address", got)
	}
	cancel()
	if got := read(); !strings.HasPrefix(got, "STOPPING=1") {
		t.Errorf("notification on stop %q, want STOPPING=1", got)
	}
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// version prints what make release stamps (and --json the keys scripts
// read); without the stamp, the commit Go recorded.
func TestVersion(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(syncguardBinary(t), "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("version --json: %v\n%s", err, out)
	}
	want := map[string]any{"version": testVersion, "commit": testCommit, "go": runtime.Version(), "schema": float64(store.SchemaVersion())}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("version --json: %s = %v, want %v", k, v[k], w)
		}
	}
	h := newHarness(t)
	r := h.ok("version")
	if !strings.Contains(r.stdout, "syncguard dev\ncommit ") || !strings.Contains(r.stdout, runtime.Version()) {
		t.Errorf("version of an unstamped build:\n%s", r.stdout)
	}
}

// A database written by a newer syncguard is refused by every command,
// saying what to do; nothing is changed.
func TestNewerDatabaseRefusedByCommands(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addCorp(writeLDIF(t, h.dir))
	newer := store.SchemaVersion() + 3
	db := rawDBWrite(t, h.db)
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)`, newer); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before := dumpDB(t, h.db)
	want := fmt.Sprintf("this database was written by a newer syncguard (schema %d); this binary knows up to %d: upgrade syncguard or restore a backup",
		newer, store.SchemaVersion())
	for _, args := range [][]string{{"status", "corp"}, {"sync", "corp"}, {"serve", "--addr", "127.0.0.1:0"}} {
		if r := h.want(exitError, args...); !strings.Contains(r.stderr, want) {
			t.Errorf("syncguard %s: %s\nwant %q", strings.Join(args, " "), r, want)
		}
	}
	if dumpDB(t, h.db) != before {
		t.Error("the refused database was changed")
	}
	// backup copies it as it is; restore-backup refuses it.
	h.ok("backup", "--to", h.path("newer.backup"))
	if r := h.want(exitError, "--db", h.path("other.db"), "restore-backup", "--from", h.path("newer.backup")); !strings.Contains(r.stderr, "newer syncguard") {
		t.Errorf("restore-backup of a newer database: %s", r)
	}
}

// With $CREDENTIALS_DIRECTORY (systemd's LoadCredential=), the secret key
// is read from it by default; a flag or variable naming a key still wins.
func TestCredentialsDirectory(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	creds := filepath.Join(h.dir, "credentials")
	if err := os.Mkdir(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	key := []byte("0123456789abcdef0123456789abcdef")
	if err := os.WriteFile(filepath.Join(creds, "secret-key"), key, 0o400); err != nil {
		t.Fatal(err)
	}
	h.env["CREDENTIALS_DIRECTORY"] = creds
	if err := os.WriteFile(h.path("bind"), []byte("Bind-Secret-Cred\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.addCorp(writeLDIF(t, h.dir), "--bind-dn", "cn=x", "--bind-password-file", h.path("bind"))
	if _, err := os.Stat(h.path("syncguard.key")); err == nil {
		t.Error("a key was made beside the database though systemd passed one")
	}
	wantID, err := store.SecretKeyID(filepath.Join(creds, "secret-key"))
	if err != nil {
		t.Fatal(err)
	}
	if r := h.ok("backup", "--to", h.path("b.db")); !strings.Contains(r.stdout, "key "+wantID+", kept in "+creds) {
		t.Errorf("backup with the credential key:\n%s", r.stdout)
	}
	other := h.path("other.key")
	if err := os.WriteFile(other, []byte(strings.Repeat("x", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	h.env["SYNCGUARD_SECRET_KEY_FILE"] = other
	if r := h.want(exitError, "config", "show", "corp"); !strings.Contains(r.stderr, "other.key") {
		t.Errorf("with SYNCGUARD_SECRET_KEY_FILE naming another key: %s", r)
	}
}

// serve --backup-every keeps a rolling set: owner-only files named by the
// time, the oldest removed beyond --backup-keep.
func TestRollingBackups(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addCorp(writeLDIF(t, h.dir), "--interval", "1h")
	dir := filepath.Join(h.dir, "rolling")
	p, _ := startServe(t, []string{"SYNCGUARD_DB=" + h.db, "SYNCGUARD_BACKUP_KEEP=2"}, "--backup-every", "1s", "--backup-dir", dir)
	p.waitUntil("four backups", 2*time.Minute, func() bool { return strings.Count(p.output(), `"msg":"backup"`) >= 4 })
	p.signal(syscall.SIGTERM)
	if code := p.wait(time.Minute); code != 0 {
		t.Fatalf("serve: exit %d\n%s", code, p.output())
	}
	if !strings.Contains(p.output(), "is not in them: keep a copy of it elsewhere") {
		t.Errorf("serve did not say the key is not in the backups:\n%s", p.output())
	}
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 {
		t.Fatalf("the backup folder holds %v, want the newest 2", names)
	}
	for _, n := range names {
		stamp := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(n), "syncguard-"), ".db")
		if _, err := time.Parse("20060102T150405Z", stamp); err != nil {
			t.Errorf("%s: not named by its time: %v", n, err)
		}
		if fi, err := os.Stat(n); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want 0600", n, fi.Mode(), err)
		}
		if _, _, err := committed(t, n); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the backup folder: %v, %v; want 0700", fi.Mode(), err)
	}
	if r := h.want(exitUsage, "serve", "--backup-every", "1h", "--backup-keep", "0"); !strings.Contains(r.stderr, "at least 1") {
		t.Errorf("--backup-keep 0: %s", r)
	}
}

// The static binary runs with an empty environment, no /etc/passwd and
// nothing but itself in a read-only root, its state folder the one
// writable place (as in the scratch image or under ProtectSystem=strict):
// add a configuration, sync (the spool goes beside the database), back up,
// serve and stop on SIGTERM.
func TestStaticBinaryInEmptyRoot(t *testing.T) {
	t.Parallel()
	unshare, err := exec.LookPath("unshare")
	chroot, err2 := exec.LookPath("chroot")
	if err != nil || err2 != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root, unshare and chroot (util-linux, coreutils)")
		}
		t.Skip("needs root, unshare and chroot (util-linux, coreutils): run as root to check the binary in an empty root")
	}
	root, data := t.TempDir(), t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, syncguardBinary(t), filepath.Join(root, "syncguard"))
	if err := os.Chmod(filepath.Join(root, "syncguard"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, writeLDIF(t, t.TempDir()), filepath.Join(data, "corp.ldif"))
	if err := os.Chown(data, 65532, 65532); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(data, "corp.ldif"), 65532, 65532); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`set -e
mount --bind %[1]s %[1]s && mount -o remount,bind,ro %[1]s && mount --bind %[2]s %[1]s/data
run() { env -i %[3]s --userspec=65532:65532 %[1]s /syncguard --db /data/syncguard.db "$@"; }
run config add corp --source ldif:/data/corp.ldif --base-dn %[4]s
run sync corp
run backup --to /data/backup.db
run status corp
if touch %[1]s/x 2>/dev/null; then echo "the root is writable"; exit 1; fi
env -i %[3]s --userspec=65532:65532 %[1]s /syncguard --db /data/syncguard.db serve --addr 127.0.0.1:0 >%[2]s/serve.out 2>&1 & pid=$!
while ! grep -q "is running at" %[2]s/serve.out; do sleep 0.05; done
kill -TERM $pid; code=0; wait $pid || code=$?; cat %[2]s/serve.out; echo "serve exited $code"
`, root, data, chroot, testBase)
	out, err := exec.Command(unshare, "--mount", "--fork", "sh", "-c", script).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("in an empty read-only root: %v", err)
	}
	for _, want := range []string{"Succeeded", "integrity ok", "corp: Healthy", "serve exited 0"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("want %q in the output", want)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "backup.db")); err != nil {
		t.Error(err)
	}
}

// rawDBWrite opens a database with plain SQL, to change it behind
// syncguard's back.
func rawDBWrite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	return db
}
