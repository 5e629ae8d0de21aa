package guard

import (
	"cmp"
	"context"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/demo"
	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/store"
)

// BenchmarkCycle times a first cycle and a no-change cycle of a generated
// directory (SYNCGUARD_BENCH_USERS users, 20,000 by default) on a fresh
// database: go test -run '^$' -bench Cycle -cpuprofile cpu.out ./guard
func BenchmarkCycle(b *testing.B) {
	users := 20_000
	if v, err := strconv.Atoi(os.Getenv("SYNCGUARD_BENCH_USERS")); err == nil && v > 0 {
		users = v
	}
	dir := b.TempDir()
	path := filepath.Join(dir, "export.ldif")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	opts := demo.Options{BaseDN: "dc=corp,dc=example", OUs: []string{"Sales", "Engineering", "Finance", "Support"},
		Users: users, Groups: max(1, users/500), Seed: 1, UUIDs: true}
	if err := demo.Generate(f, opts); err != nil {
		b.Fatal(err)
	}
	f.Close()
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		st, err := store.Open(ctx, filepath.Join(dir, "db"+strconv.Itoa(i)))
		if err != nil {
			b.Fatal(err)
		}
		c := &store.Configuration{Name: "bench", Source: "ldif:" + path, BaseDN: opts.BaseDN, Interval: time.Minute,
			Basics: store.Basics{Prevent: true, Threshold: 500}}
		if err := st.CreateConfiguration(ctx, c, "bench"); err != nil {
			b.Fatal(err)
		}
		eng := &Engine{Store: st}
		// SYNCGUARD_BENCH_PROFILE=file profiles the cycle
		// SYNCGUARD_BENCH_CYCLE names (default no-change).
		profiled := cmp.Or(os.Getenv("SYNCGUARD_BENCH_CYCLE"), "no-change")
		for _, what := range []string{"first", "no-change"} {
			if prof := os.Getenv("SYNCGUARD_BENCH_PROFILE"); prof != "" && what == profiled {
				f, err := os.Create(prof)
				if err != nil {
					b.Fatal(err)
				}
				pprof.StartCPUProfile(f)
				defer f.Close()
				defer pprof.StopCPUProfile()
			}
			start := time.Now()
			cy, err := eng.RunCycle(ctx, c.ID, TriggerManual)
			if err != nil || cy.Outcome != store.OutcomeSucceeded {
				b.Fatalf("%s cycle: %v %+v", what, err, cy)
			}
			b.ReportMetric(float64(time.Since(start).Milliseconds()), what+"-ms")
		}
		// The source loses every object: the guard stages them all.
		empty := filepath.Join(dir, "empty.ldif")
		if err := os.WriteFile(empty, []byte("dn: dc=corp,dc=example\nobjectClass: domain\ndc: corp\n\n"), 0o600); err != nil {
			b.Fatal(err)
		}
		c.Source = "ldif:" + empty
		if err := st.UpdateConfiguration(ctx, c, "bench"); err != nil {
			b.Fatal(err)
		}
		if prof := os.Getenv("SYNCGUARD_BENCH_QPROFILE"); prof != "" {
			f, err := os.Create(prof)
			if err != nil {
				b.Fatal(err)
			}
			pprof.StartCPUProfile(f)
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
		start := time.Now()
		if cy, err := eng.RunCycle(ctx, c.ID, TriggerManual); err != nil || cy.Outcome != store.OutcomeQuarantined {
			b.Fatalf("quarantine: %v %+v", err, cy)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "quarantine-ms")
		st.Close()
	}
}

// BenchmarkCycleLDAP is BenchmarkCycle against a private slapd loaded with
// the same directory (skipped without slapd).
func BenchmarkCycleLDAP(b *testing.B) {
	users := 20_000
	if v, err := strconv.Atoi(os.Getenv("SYNCGUARD_BENCH_USERS")); err == nil && v > 0 {
		users = v
	}
	dir := b.TempDir()
	path := filepath.Join(dir, "export.ldif")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	opts := demo.Options{BaseDN: "dc=corp,dc=example", OUs: []string{"Sales", "Engineering", "Finance", "Support"},
		Users: users, Groups: max(1, users/500), Seed: 1, UUIDs: true}
	if err := demo.Generate(f, opts); err != nil {
		b.Fatal(err)
	}
	f.Close()
	srv := slapdtest.Start(b, slapdtest.Options{Suffix: opts.BaseDN, LDIFPath: path})
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		st, err := store.Open(ctx, filepath.Join(dir, "db"+strconv.Itoa(i)))
		if err != nil {
			b.Fatal(err)
		}
		c := &store.Configuration{Name: "bench", Source: srv.URL, BaseDN: opts.BaseDN, BindDN: srv.RootDN, BindPassword: srv.RootPW,
			Interval: time.Minute, Basics: store.Basics{Prevent: true, Threshold: 500}}
		if err := st.CreateConfiguration(ctx, c, "bench"); err != nil {
			b.Fatal(err)
		}
		eng := &Engine{Store: st}
		// SYNCGUARD_BENCH_PROFILE=file profiles the cycle
		// SYNCGUARD_BENCH_CYCLE names (default no-change).
		profiled := cmp.Or(os.Getenv("SYNCGUARD_BENCH_CYCLE"), "no-change")
		for _, what := range []string{"first", "no-change"} {
			if prof := os.Getenv("SYNCGUARD_BENCH_PROFILE"); prof != "" && what == profiled {
				f, err := os.Create(prof)
				if err != nil {
					b.Fatal(err)
				}
				pprof.StartCPUProfile(f)
				defer f.Close()
				defer pprof.StopCPUProfile()
			}
			start := time.Now()
			cy, err := eng.RunCycle(ctx, c.ID, TriggerManual)
			if err != nil || cy.Outcome != store.OutcomeSucceeded {
				b.Fatalf("%s cycle: %v %+v", what, err, cy)
			}
			b.ReportMetric(float64(time.Since(start).Milliseconds()), what+"-ms")
		}
		st.Close()
	}
}
