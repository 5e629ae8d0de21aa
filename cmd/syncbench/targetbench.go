package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/guard/demo"
	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/guard/target"
	"github.com/syncguard/syncguard/guard/target/scim"
	"github.com/syncguard/syncguard/guard/target/scim/scimtest"
	"github.com/syncguard/syncguard/store"
)

// cloudBase is the suffix of the target directories.
const cloudBase = "dc=cloud,dc=example"

// ldapTarget measures a first cycle that exports users users and their
// groups to an empty slapd, against ldapadd adding the same entries (as
// syncguard wrote them, read back with ldapsearch) into another empty
// slapd, run by run; and a no-change cycle with that target against one
// without a target.
func (b *bench) ldapTarget(ctx context.Context, users, runs int) (section, error) {
	full, _, opts, err := b.ldifFiles(users)
	if err != nil {
		return section{}, err
	}
	ldapadd, err := exec.LookPath("ldapadd")
	if err != nil {
		return section{}, fmt.Errorf("ldapadd is missing (apt-get install ldap-utils): %w", err)
	}
	objects := opts.Users + opts.Groups
	entries := filepath.Join(b.dir, "target-entries.ldif")
	var first, adds, noChange, noChangePlain []sample
	for i := range runs {
		b.logf("run %d of %d", i+1, runs)
		got, err := b.exportToSlapd(ctx, full, entries, i, objects)
		if err != nil {
			return section{}, err
		}
		first, noChange = append(first, got[0]), append(noChange, got[1])
		add, err := b.ldapadd(ctx, ldapadd, entries, i)
		if err != nil {
			return section{}, err
		}
		adds = append(adds, add)
		b.logf("  %-24s %s", "ldapadd", formatDuration(add.wall))
		plain, err := b.noChangeWithoutTarget(ctx, full, i)
		if err != nil {
			return section{}, err
		}
		noChangePlain = append(noChangePlain, plain)
		b.logf("  %-24s %s", "no-change, no target", formatDuration(plain.wall))
	}
	ad, _ := medianWall(adds)
	fc, _ := medianWall(first)
	nc, _ := medianWall(noChange)
	np, _ := medianWall(noChangePlain)
	return section{
		Title: fmt.Sprintf("LDAP target, %s users", thousands(users)),
		About: fmt.Sprintf("The LDIF of %s users and %s groups (%d members each) synced by `sync` (a child process, fresh "+
			"database) into an empty private slapd (mdb, loopback, bound as its root DN): the first cycle and the export of "+
			"every object, until `sync` exits. The floor is `ldapadd -x` of the same entries, as syncguard wrote them (read "+
			"back with ldapsearch), into another empty slapd; median of %d, run by run.",
			thousands(opts.Users), thousands(opts.Groups), demo.DefaultMembersPerGroup, runs),
		Rows: []row{
			{What: fmt.Sprintf("ldapadd of the %s entries (the floor)", thousands(objects)), Samples: adds},
			{What: fmt.Sprintf("First cycle and its export: %s objects written to the target", thousands(objects)), Samples: first,
				Target: fmt.Sprintf("≤ 1.5× ldapadd: %.2f×", fc.Seconds()/ad.Seconds()), Met: yesNo(fc.Seconds() <= 1.5*ad.Seconds())},
			{What: "No-change cycle, no target", Samples: noChangePlain},
			{What: "No-change cycle with the LDAP target (nothing sent)", Samples: noChange,
				Target: fmt.Sprintf("±10 %% of no target: %+.0f %%", 100*(nc.Seconds()/np.Seconds()-1)),
				Met:    yesNo(nc.Seconds() <= 1.1*np.Seconds())},
		},
	}, nil
}

// exportToSlapd runs a first cycle exporting to a fresh slapd and a
// no-change cycle after it, and the first time writes what the target
// then holds, as LDIF, to entries.
func (b *bench) exportToSlapd(ctx context.Context, full, entries string, run, objects int) ([2]sample, error) {
	var out [2]sample
	sdir := filepath.Join(b.dir, fmt.Sprintf("target-slapd-%d", run+1))
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		return out, err
	}
	srv, tb, err := startSlapd(sdir, cloudBase, "")
	if err != nil {
		return out, err
	}
	defer func() { tb.close(); os.RemoveAll(sdir) }()
	pwFile := filepath.Join(b.dir, "target-password")
	if err := os.WriteFile(pwFile, []byte(srv.RootPW), 0o600); err != nil {
		return out, err
	}
	db := filepath.Join(b.dir, fmt.Sprintf("target-ldap-run%d.db", run+1))
	defer b.removeDB(db)
	if _, _, err := b.syncguard(ctx, db, 0, "config", "add", configName, "--source", "ldif:"+full, "--base-dn", baseDN,
		"--threshold", fmt.Sprint(threshold), "--target", srv.URL, "--target-base-dn", cloudBase, "--target-bind-dn", srv.RootDN,
		"--target-bind-password-file", pwFile); err != nil {
		return out, err
	}
	for i, step := range []struct{ what, check string }{
		{"first cycle and export", fmt.Sprintf("exported %d to the target", objects)},
		{"no-change, LDAP target", "created 0, updated 0, deleted 0"},
	} {
		got, stdout, err := b.syncguard(ctx, db, 0, "sync", configName)
		if err != nil {
			return out, fmt.Errorf("%s: %w", step.what, err)
		}
		if !strings.Contains(stdout, step.check) || (i == 1 && strings.Contains(stdout, "exported")) {
			return out, fmt.Errorf("%s: output lacks %q:\n%s", step.what, step.check, stdout)
		}
		out[i] = got
		b.logf("  %-24s %s  peak RSS %s", step.what, formatDuration(got.wall), formatKB(got.rssKB))
	}
	if _, err := os.Stat(entries); err == nil {
		return out, nil
	}
	return out, dumpTarget(ctx, srv, entries)
}

// dumpTarget writes every entry below the target's suffix (not the
// suffix itself), as ldapsearch reads them, to path.
func dumpTarget(ctx context.Context, srv *slapdtest.Server, path string) error {
	cmd := exec.CommandContext(ctx, "ldapsearch", "-x", "-H", srv.URL, "-D", srv.RootDN, "-w", srv.RootPW, "-b", cloudBase,
		"-s", "sub", "-E", "pr=1000/noprompt", "-LLL", "-o", "ldif-wrap=no", "(objectClass=*)")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ldapsearch the target: %v: %s", err, stderr.String())
	}
	var out strings.Builder
	for rec := range strings.SplitSeq(stdout.String(), "\n\n") {
		if strings.TrimSpace(rec) == "" || strings.HasPrefix(rec, "dn: "+cloudBase+"\n") {
			continue
		}
		out.WriteString(strings.TrimSpace(rec) + "\n\n")
	}
	return os.WriteFile(path, []byte(out.String()), 0o600)
}

// ldapadd times ldapadd of entries into a fresh slapd.
func (b *bench) ldapadd(ctx context.Context, ldapadd, entries string, run int) (sample, error) {
	sdir := filepath.Join(b.dir, fmt.Sprintf("ldapadd-slapd-%d", run+1))
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		return sample{}, err
	}
	srv, tb, err := startSlapd(sdir, cloudBase, "")
	if err != nil {
		return sample{}, err
	}
	defer func() { tb.close(); os.RemoveAll(sdir) }()
	cmd := exec.CommandContext(ctx, ldapadd, "-x", "-H", srv.URL, "-D", srv.RootDN, "-w", srv.RootPW, "-f", entries)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	rss, err := runMeasured(cmd)
	if err != nil {
		return sample{}, fmt.Errorf("ldapadd: %v: %s", err, stderr.String())
	}
	return sample{wall: time.Since(start), rssKB: rss}, nil
}

// noChangeWithoutTarget times a no-change cycle of a configuration
// without a target, after its first cycle.
func (b *bench) noChangeWithoutTarget(ctx context.Context, full string, run int) (sample, error) {
	db := filepath.Join(b.dir, fmt.Sprintf("target-none-run%d.db", run+1))
	defer b.removeDB(db)
	if _, _, err := b.syncguard(ctx, db, 0, "config", "add", configName, "--source", "ldif:"+full, "--base-dn", baseDN,
		"--threshold", fmt.Sprint(threshold)); err != nil {
		return sample{}, err
	}
	if _, _, err := b.syncguard(ctx, db, 0, "sync", configName); err != nil {
		return sample{}, err
	}
	got, stdout, err := b.syncguard(ctx, db, 0, "sync", configName)
	if err == nil && !strings.Contains(stdout, "created 0, updated 0, deleted 0") {
		err = fmt.Errorf("no-change cycle: %s", stdout)
	}
	return got, err
}

// scimExport measures the exporter sending n creates to an in-process
// SCIM service (the queue of a first cycle: claimed, built from the
// target directory copy, sent, answered into the log) against a plain
// loop POSTing the same bodies with the same concurrency to another,
// alternately.
func (b *bench) scimExport(ctx context.Context, n, runs int) (section, error) {
	tb := &benchTB{dir: b.dir}
	defer tb.close()
	path := filepath.Join(b.dir, fmt.Sprintf("scim-%d.ldif", n))
	f, err := os.Create(path)
	if err != nil {
		return section{}, err
	}
	w := bufio.NewWriter(f)
	err = demo.Generate(w, demo.Options{BaseDN: baseDN, OUs: ous, Users: n, Seed: seed, UUIDs: true})
	if err := errors.Join(err, w.Flush(), f.Close()); err != nil {
		return section{}, err
	}
	// A first run, not counted, makes the bodies of the plain loop and
	// warms what both sides share.
	_, bodies, err := b.exportSCIM(ctx, tb, path, n, 0)
	if err != nil {
		return section{}, err
	}
	var exporter, plain []sample
	for i := range runs {
		b.logf("run %d of %d", i+1, runs)
		for side := range 2 {
			var got sample
			var err error
			if (i+side)%2 == 0 { // alternate which side goes first
				got, _, err = b.exportSCIM(ctx, tb, path, n, i+1)
				exporter = append(exporter, got)
				b.logf("  %-24s %s", "exporter", formatDuration(got.wall))
			} else {
				got, err = postPlainly(tb, bodies)
				plain = append(plain, got)
				b.logf("  %-24s %s", "plain loop", formatDuration(got.wall))
			}
			if err != nil {
				return section{}, err
			}
		}
	}
	ex, _ := medianWall(exporter)
	pl, _ := medianWall(plain)
	return section{
		Title: fmt.Sprintf("SCIM target, %s creates", thousands(n)),
		About: fmt.Sprintf("A first cycle of %s users queues their creates (not timed); then the exporter sends them to an "+
			"in-process SCIM 2.0 service (guard/target/scim/scimtest over loopback HTTP) with the writer's concurrency of %d: "+
			"claimed from the queue, built from the target directory copy, POSTed, each answer written to its log entry. "+
			"The floor is a plain loop POSTing the same bodies with the same concurrency to another such service; alternately, "+
			"median of %d.", thousands(n), scim.DefaultConcurrency, runs),
		Rows: []row{
			{What: "Plain loop of the POSTs (the floor)", Samples: plain},
			{What: fmt.Sprintf("The exporter: %s creates, every entry a Success", thousands(n)), Samples: exporter,
				Target: fmt.Sprintf("≤ 1.3× plain: %.2f×", ex.Seconds()/pl.Seconds()), Met: yesNo(ex.Seconds() <= 1.3*pl.Seconds())},
		},
	}, nil
}

// exportSCIM runs a first cycle of the LDIF at path into a fresh store
// with a SCIM target (not timed), then times the exporter draining the
// queue. It returns the POST bodies of the users, as the writer makes
// them, for the plain loop.
func (b *bench) exportSCIM(ctx context.Context, tb *benchTB, path string, n, run int) (sample, [][]byte, error) {
	srv := scimtest.Start(tb, scimtest.Options{})
	defer srv.Close()
	db := filepath.Join(b.dir, fmt.Sprintf("scim-run%d.db", run+1))
	defer b.removeDB(db)
	st, err := store.Open(ctx, db)
	if err != nil {
		return sample{}, nil, err
	}
	defer st.Close()
	cfg := &store.Configuration{Name: configName, Source: "ldif:" + path, BaseDN: baseDN, Interval: time.Hour,
		Basics: store.Basics{Prevent: true, Threshold: threshold}}
	if err := st.CreateConfiguration(ctx, cfg, "syncbench"); err != nil {
		return sample{}, nil, err
	}
	if err := st.SetTarget(ctx, &store.Target{ConfigID: cfg.ID, URL: srv.URL, Token: srv.Token}, "syncbench"); err != nil {
		return sample{}, nil, err
	}
	if c, err := (&guard.Engine{Store: st}).RunCycle(ctx, cfg.ID, guard.TriggerManual); err != nil || c.Creates != n {
		return sample{}, nil, fmt.Errorf("first cycle: %+v, %v", c, err)
	}
	x := &guard.Exporter{Store: st}
	defer x.Close()
	start := time.Now()
	d, err := x.Drain(ctx, cfg.ID, 30*time.Second)
	got := sample{wall: time.Since(start)}
	if err == nil && (d.Sent != n || len(srv.Users()) != n) {
		err = fmt.Errorf("the exporter sent %d, the service holds %d users; want %d", d.Sent, len(srv.Users()), n)
	}
	if err != nil {
		return got, nil, err
	}
	bodies, err := scimBodies(ctx, st, cfg.ID)
	return got, bodies, err
}

// scimBodies are the POST bodies of a configuration's users, as the SCIM
// writer makes them.
func scimBodies(ctx context.Context, st *store.Store, configID int64) ([][]byte, error) {
	var bodies [][]byte
	var errs []error
	err := st.TargetObjects(ctx, configID, func(o *store.TargetObject) {
		obj := &target.Object{Anchor: o.Anchor, Type: o.Type, DN: o.DN, Name: o.Name, Attributes: o.Attributes,
			Enabled: guard.AccountEnabled(o.Attributes)}
		res, err := scim.UserResource(obj)
		if err == nil {
			var body []byte
			body, err = json.Marshal(res)
			bodies = append(bodies, body)
		}
		errs = append(errs, err)
	})
	return bodies, errors.Join(append(errs, err)...)
}

// postPlainly POSTs bodies to a fresh SCIM service with the writer's
// concurrency, on a transport set as the writer's.
func postPlainly(tb *benchTB, bodies [][]byte) (sample, error) {
	srv := scimtest.Start(tb, scimtest.Options{})
	defer srv.Close()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 2*scim.DefaultConcurrency, 2*scim.DefaultConcurrency
	client := &http.Client{Transport: tr}
	defer client.CloseIdleConnections()
	next := make(chan []byte)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	for range scim.DefaultConcurrency {
		wg.Go(func() {
			for body := range next {
				if err := post(client, srv, body); err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, body := range bodies {
		next <- body
	}
	close(next)
	wg.Wait()
	got := sample{wall: time.Since(start)}
	if firstErr == nil && len(srv.Users()) != len(bodies) {
		firstErr = fmt.Errorf("the plain loop made %d users of %d", len(srv.Users()), len(bodies))
	}
	return got, firstErr
}

// post sends one create.
func post(client *http.Client, srv *scimtest.Server, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, srv.HTTPURL+"/Users", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	req.Header.Set("Accept", "application/scim+json, application/json")
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST: %s", resp.Status)
	}
	return nil
}
