package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
)

// portal loads the real portal with clients signed-in clients on loopback
// for d, each in a loop over mixed pages, while cycles of users users run
// (a first cycle, then no-change cycles) in the same process.
func (b *bench) portal(ctx context.Context, users, clients int, d time.Duration) (section, error) {
	full, _, opts, err := b.ldifFiles(users)
	if err != nil {
		return section{}, err
	}
	path := filepath.Join(b.dir, "portal.db")
	defer b.removeDB(path)
	st, ts, err := newPortal(ctx, path)
	if err != nil {
		return section{}, err
	}
	defer st.Close()
	defer ts.Close()
	cfg := &store.Configuration{Name: configName, Source: "ldif:" + full, BaseDN: baseDN, Interval: time.Hour,
		Basics: store.Basics{Prevent: true, Threshold: threshold}}
	if err := st.CreateConfiguration(ctx, cfg, "syncbench"); err != nil {
		return section{}, err
	}
	eng := &guard.Engine{Store: st}
	// A first cycle, so the pages have something to show.
	if _, err := eng.RunCycle(ctx, cfg.ID, guard.TriggerManual); err != nil {
		return section{}, err
	}
	preview, err := timePreviews(ts.URL, cfg.ID, 3)
	if err != nil {
		return section{}, fmt.Errorf("preview: %w", err)
	}
	b.logf("  %-40s median %s", "Preview of Basics", formatDuration(median(preview)))
	pages := []string{
		"/configurations",
		fmt.Sprintf("/configurations/%d", cfg.ID),
		fmt.Sprintf("/configurations/%d/logs", cfg.ID),
		fmt.Sprintf("/configurations/%d/logs?action=Create", cfg.ID),
		fmt.Sprintf("/configurations/%d/logs?q=engineering", cfg.ID),
		fmt.Sprintf("/configurations/%d/status", cfg.ID),
		"/audit",
		"/outbox",
	}
	cs := make([]*portalClient, clients)
	for i := range cs {
		if cs[i], err = signIn(ts.URL); err != nil {
			return section{}, err
		}
	}
	// Cycles run the whole time: the first is over, the next ones read
	// and plan the 100k objects again (and apply nothing).
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	var cycles int
	var cycleErr error
	var cwg sync.WaitGroup
	cwg.Add(1)
	go func() {
		defer cwg.Done()
		for lctx.Err() == nil {
			if _, err := eng.RunCycle(lctx, cfg.ID, guard.TriggerManual); err != nil {
				if lctx.Err() == nil {
					cycleErr = err
				}
				return
			}
			cycles++
		}
	}()
	var mu sync.Mutex
	var lat []time.Duration
	byPage := map[string][]time.Duration{}
	var errs int
	var firstErr error
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			mineBy := map[string][]time.Duration{}
			for k := i; time.Now().Before(deadline) && ctx.Err() == nil; k++ {
				t := time.Now()
				_, status, err := c.get(pages[k%len(pages)])
				mine = append(mine, time.Since(t))
				mineBy[pages[k%len(pages)]] = append(mineBy[pages[k%len(pages)]], time.Since(t))
				if err != nil || status != http.StatusOK {
					mu.Lock()
					errs++
					if firstErr == nil {
						firstErr = fmt.Errorf("%s: status %d, %v", pages[k%len(pages)], status, err)
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			for p, l := range mineBy {
				byPage[p] = append(byPage[p], l...)
			}
			mu.Unlock()
		}()
	}
	start := time.Now()
	wg.Wait()
	elapsed := time.Since(start)
	stop()
	cwg.Wait()
	if cycleErr != nil {
		return section{}, fmt.Errorf("cycle during the load: %w", cycleErr)
	}
	if firstErr != nil {
		b.logf("  first error: %v", firstErr)
	}
	for _, p := range pages {
		b.logf("  %-40s p50 %s  p99 %s", p, formatLatency(percentile(byPage[p], 50)), formatLatency(percentile(byPage[p], 99)))
	}
	p50, p99 := percentile(lat, 50), percentile(lat, 99)
	rps := float64(len(lat)) / elapsed.Seconds()
	b.logf("  %d requests in %s: %.0f/s, p50 %s, p99 %s, %d errors, %d cycles", len(lat), formatDuration(elapsed), rps,
		formatLatency(p50), formatLatency(p99), errs, cycles)
	return section{
		Title: "Portal under load",
		About: fmt.Sprintf("%d signed-in clients on loopback for %s, each requesting in turn the configurations list, the "+
			"configuration, the log (plain, filtered, searched), the sync status info, the audit log and the outbox, while "+
			"cycles of %s objects run back to back in the same process (%d ran).",
			clients, d, thousands(opts.Users+opts.Groups), cycles),
		Rows: []row{
			{What: "Throughput", Value: fmt.Sprintf("%.0f requests/s (%s requests)", rps, thousands(len(lat)))},
			{What: "Latency", Value: fmt.Sprintf("p50 %s, p99 %s", formatLatency(p50), formatLatency(p99))},
			{What: "Errors", Value: fmt.Sprint(errs), Target: "0", Met: yesNo(errs == 0)},
			{What: fmt.Sprintf("Preview (Edit Basics → Preview: %s objects read and planned, nothing saved; before the load)",
				thousands(opts.Users+opts.Groups)), Samples: samplesOf(preview), Target: "≤ 2 s",
				Met: yesNo(median(preview) <= 2*time.Second)},
		},
	}, nil
}

// timePreviews times n Previews of Edit Basics through the portal, each
// reading and planning the whole source, sorted.
func timePreviews(base string, configID int64, n int) ([]time.Duration, error) {
	c, err := signIn(base)
	if err != nil {
		return nil, err
	}
	edit := fmt.Sprintf("/configurations/%d/basics/edit", configID)
	var out []time.Duration
	for range n {
		body, status, err := c.get(edit)
		m := csrfField.FindStringSubmatch(body)
		if err != nil || status != http.StatusOK || m == nil {
			return nil, fmt.Errorf("%s: status %d, %v", edit, status, err)
		}
		form := url.Values{"_csrf": {m[1]}, "email": {""}, "prevent": {"on"}, "threshold": {fmt.Sprint(threshold)},
			"users": {"0"}, "groups": {"0"}, "memberships": {"0"}, "percent": {"10"}, "remind": {"24h"}, "preview": {"1"}}
		t := time.Now()
		res, err := c.hc.PostForm(base+fmt.Sprintf("/configurations/%d/basics", configID), form)
		if err != nil {
			return nil, err
		}
		page, err := io.ReadAll(res.Body)
		res.Body.Close()
		out = append(out, time.Since(t))
		if err != nil || res.StatusCode != http.StatusOK || !strings.Contains(string(page), "Preview of the next cycle") {
			return nil, fmt.Errorf("preview: status %d, %v", res.StatusCode, err)
		}
	}
	slices.Sort(out)
	return out, nil
}

// samplesOf makes in-process timings samples of a row.
func samplesOf(d []time.Duration) []sample {
	out := make([]sample, len(d))
	for i, v := range d {
		out[i] = sample{wall: v}
	}
	return out
}
