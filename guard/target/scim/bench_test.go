package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/target"
	"github.com/syncguard/syncguard/guard/target/scim/scimtest"
)

// The benchmark creates benchUsers users each way, in benchRounds rounds
// that alternate between the two, so that a machine shared with other
// work slows both alike.
const (
	benchUsers  = 10_000
	benchRounds = 40
)

func benchObjects() []*target.Object {
	objs := make([]*target.Object, benchUsers)
	for i := range objs {
		uid := fmt.Sprintf("user%05d", i)
		objs[i] = &target.Object{
			Anchor: fmt.Sprintf("uuid:%08d-0000-4000-8000-000000000000", i), Type: target.TypeUser, Name: uid, Enabled: true,
			Attributes: map[string][]string{
				"uid": {uid}, "mail": {uid + "@example.org"}, "givenName": {"Given"},
				"sn": {uid}, "cn": {"Given " + uid}, "displayName": {"Given " + uid},
			},
		}
	}
	return objs
}

// cost is what a round took: wall-clock and the process's CPU time.
type cost struct{ wall, cpu time.Duration }

// fanOut runs do(i) for every i in [lo, hi) on workers goroutines and
// returns what it cost, or the first error.
func fanOut(lo, hi, workers int, do func(i int) error) (cost, error) {
	runtime.GC() // neither side pays for the other's garbage
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	start, cpu0 := time.Now(), cpuTime()
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := do(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
feed:
	for i := lo; i < hi; i++ {
		select {
		case next <- i:
		case err := <-errs:
			errs <- err
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	return cost{time.Since(start), cpuTime() - cpu0}, <-errs
}

// cpuTime is the CPU time the process (client and service) has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writerRound creates objs[lo:hi] through the Writer.
func writerRound(w *Writer, objs []*target.Object) func(lo, hi int) (cost, error) {
	return func(lo, hi int) (cost, error) {
		return fanOut(lo, hi, w.Concurrency(), func(i int) error {
			_, err := w.Put(context.Background(), objs[i], "", target.CreateFirst)
			return err
		})
	}
}

// plainRound POSTs bodies[lo:hi] with a bare client on a transport set as
// the Writer's: the floor the Writer is held to.
func plainRound(b *testing.B, srv *scimtest.Server, bodies [][]byte) func(lo, hi int) (cost, error) {
	cfg := Config{Concurrency: DefaultConcurrency, Timeout: DefaultTimeout}
	tr, err := newTransport(cfg)
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: tr}
	return func(lo, hi int) (cost, error) {
		return fanOut(lo, hi, cfg.Concurrency, func(i int) error {
			req, err := http.NewRequest(http.MethodPost, srv.HTTPURL+"/Users", bytes.NewReader(bodies[i]))
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+srv.Token)
			req.Header.Set("Content-Type", "application/scim+json")
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				return fmt.Errorf("POST %d: %s", i, resp.Status)
			}
			return nil
		})
	}
}

// BenchmarkCreate10k creates 10,000 users with concurrency 8 through the
// Writer (CreateFirst) and with a plain loop of the same POST bodies, each
// into its own scimtest service, and reports the time of each and the
// Writer's overhead (held to at most 1.3):
//
//   - writer-s, plain-s: the time of all 10,000 creates each way;
//   - ratio: the median, over the rounds, of writer time / plain time of
//     two rounds run back to back: what other work on the machine does
//     to both alike cancels out;
//   - total-ratio: writer-s / plain-s; cpu-ratio: the same for the CPU
//     time of the whole process (client and service).
//
// Run it with
//
//	go test -run '^$' -bench Create10k -benchtime 3x ./guard/target/scim
func BenchmarkCreate10k(b *testing.B) {
	objs := benchObjects()
	bodies := make([][]byte, len(objs))
	for i, obj := range objs {
		res, err := UserResource(obj)
		if err != nil {
			b.Fatal(err)
		}
		if bodies[i], err = json.Marshal(res); err != nil {
			b.Fatal(err)
		}
	}
	var total [2]cost // writer, plain
	var ratios []float64
	for b.Loop() {
		ws, ps := scimtest.Start(b, scimtest.Options{}), scimtest.Start(b, scimtest.Options{})
		w, err := New(Config{URL: ws.URL, Token: ws.Token})
		if err != nil {
			b.Fatal(err)
		}
		rounds := [2]func(lo, hi int) (cost, error){writerRound(w, objs), plainRound(b, ps, bodies)}
		step := benchUsers / benchRounds
		for r := range benchRounds {
			var round [2]cost
			for i := range 2 {
				side := (r + i) % 2 // alternate which side goes first
				c, err := rounds[side](r*step, (r+1)*step)
				if err != nil {
					b.Fatal(err)
				}
				round[side] = c
				total[side].wall += c.wall
				total[side].cpu += c.cpu
			}
			ratios = append(ratios, round[0].wall.Seconds()/round[1].wall.Seconds())
		}
		if nw, np := len(ws.Users()), len(ps.Users()); nw != benchUsers || np != benchUsers {
			b.Fatalf("created %d users through the writer and %d plainly, want %d each", nw, np, benchUsers)
		}
		_ = w.Close()
		ws.Close()
		ps.Close()
	}
	n := float64(b.N)
	slices.Sort(ratios)
	b.ReportMetric(total[0].wall.Seconds()/n, "writer-s")
	b.ReportMetric(total[1].wall.Seconds()/n, "plain-s")
	b.ReportMetric(ratios[len(ratios)/2], "ratio")
	b.ReportMetric(total[0].wall.Seconds()/total[1].wall.Seconds(), "total-ratio")
	b.ReportMetric(total[0].cpu.Seconds()/total[1].cpu.Seconds(), "cpu-ratio")
}
