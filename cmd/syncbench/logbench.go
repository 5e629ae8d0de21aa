package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"time"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/web"
)

const (
	logConfigs    = 20
	perCycle      = 5000 // log entries per cycle in the generated log
	benchUser     = "bench"
	benchPassword = "syncbench-password"
)

// fillLog writes entries provisioning log entries spread over the
// configurations 1..logConfigs, with their cycles, straight with SQL: the
// log indexes are dropped during the load and built again after.
func fillLog(ctx context.Context, path string, entries int, now time.Time) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var indexes []string
	rows, err := db.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'provisioning_log' AND sql IS NOT NULL`)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var name, q string
		if err := rows.Scan(&name, &q); err != nil {
			rows.Close()
			return err
		}
		names, indexes = append(names, name), append(indexes, q)
	}
	rows.Close()
	for _, n := range names {
		if _, err := db.ExecContext(ctx, `DROP INDEX `+n); err != nil {
			return err
		}
	}
	perConfig := entries / logConfigs
	span := 29 * 24 * time.Hour
	t0 := now.Add(-span).UnixMilli()
	step := max(1, span.Milliseconds()/int64(perConfig))
	cycles := (perConfig + perCycle - 1) / perCycle
	if _, err := db.ExecContext(ctx, `WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ? - 1)
		INSERT INTO cycles (id, config_id, trigger, outcome, read_count, creates, started_at, finished_at)
		SELECT (i / ?) * 100000 + i % ? + 1, i / ? + 1, 'schedule', 'Succeeded', ?, ?, ? + (i % ?) * ? * ?, ? + (i % ?) * ? * ? + 1000 FROM s`,
		logConfigs*cycles, cycles, cycles, cycles, perCycle, perCycle, t0, cycles, perCycle, step, t0, cycles, perCycle, step); err != nil {
		return fmt.Errorf("cycles: %w", err)
	}
	const chunk = 500_000
	for lo := 0; lo < entries; lo += chunk {
		hi := min(entries, lo+chunk)
		if _, err := db.ExecContext(ctx, `WITH RECURSIVE s(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM s WHERE i < ? - 1),
			r(c, k) AS (SELECT i % 20 + 1, i / 20 FROM s)
			INSERT INTO provisioning_log (config_id, cycle_id, time, action, status, object_type, name, dn, anchor, details,
				staged, fate, cause)
			SELECT c, (c - 1) * 100000 + k / ? + 1, ? + k * ?,
				CASE WHEN k % 10 < 6 THEN 'Create' WHEN k % 10 < 8 THEN 'Update' WHEN k % 10 = 8 THEN 'Delete' ELSE 'StagedDelete' END,
				CASE WHEN k % 10 = 9 THEN 'Staged' WHEN k % 97 = 0 THEN 'Failure' ELSE 'Success' END,
				CASE WHEN k % 50 = 0 THEN 'group' ELSE 'user' END,
				CASE WHEN k % 50 = 0 THEN 'Group ' || k ELSE 'User ' || k END,
				CASE WHEN k % 50 = 0 THEN 'cn=Group ' || k || ',ou=Groups' ELSE 'uid=u' || k || ',ou=' ||
					CASE k % 4 WHEN 0 THEN 'Sales' WHEN 1 THEN 'Engineering' WHEN 2 THEN 'Finance' ELSE 'Support' END END || ',dc=corp,dc=example',
				printf('uuid:%08x-0000-4000-8000-%012x', c, k),
				CASE WHEN k % 10 < 6 THEN 'created' WHEN k % 10 < 8 THEN 'changed: title' ELSE 'no longer in scope' END,
				k % 10 = 9, CASE WHEN k % 10 = 9 THEN 'discarded' ELSE '' END,
				CASE WHEN k % 10 >= 8 THEN 'deleted at the source' ELSE '' END
			FROM r`, lo, hi, perCycle, t0, step); err != nil {
			return fmt.Errorf("log: %w", err)
		}
	}
	for _, q := range indexes {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("index: %w", err)
		}
	}
	_, err = db.ExecContext(ctx, `ANALYZE`)
	return err
}

// portalClient is a signed-in HTTP client of the portal.
type portalClient struct {
	base string
	hc   *http.Client
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// signIn signs in through the sign-in form.
func signIn(base string) (*portalClient, error) {
	jar, _ := cookiejar.New(nil)
	c := &portalClient{base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 4}}}
	body, status, err := c.get("/login")
	if err != nil {
		return nil, err
	}
	m := csrfField.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil {
		return nil, fmt.Errorf("sign-in page: status %d, no CSRF token", status)
	}
	form := url.Values{"username": {benchUser}, "password": {benchPassword}, "_csrf": {m[1]}}
	res, err := c.hc.PostForm(base+"/login", form)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if _, status, err := c.get("/configurations"); err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("not signed in: status %d, %v", status, err)
	}
	return c, nil
}

func (c *portalClient) get(path string) (string, int, error) {
	res, err := c.hc.Get(c.base + path)
	if err != nil {
		return "", 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), res.StatusCode, err
}

// newPortal opens the store at path and serves the real portal on loopback.
func newPortal(ctx context.Context, path string) (*store.Store, *httptest.Server, error) {
	st, err := store.Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	if _, err := st.UserByName(ctx, benchUser); err != nil {
		h, err := guard.HashPassword(benchPassword)
		if err != nil {
			st.Close()
			return nil, nil, err
		}
		if err := st.CreateUser(ctx, &store.User{Name: benchUser, PasswordHash: h, Role: store.RoleAdmin}); err != nil {
			st.Close()
			return nil, nil, err
		}
	}
	eng := &guard.Engine{Store: st}
	srv, err := web.New(ctx, web.Options{Store: st, Engine: eng})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, httptest.NewServer(srv), nil
}

// logs measures the provisioning log and configuration pages over a log of
// entries entries.
func (b *bench) logs(ctx context.Context, entries int) (section, error) {
	path := b.dir + "/log.db"
	defer b.removeDB(path)
	st, err := store.Open(ctx, path)
	if err != nil {
		return section{}, err
	}
	for i := range logConfigs {
		c := &store.Configuration{Name: fmt.Sprintf("corp-%02d", i+1), Source: "ldif:/nonexistent/corp.ldif", BaseDN: baseDN,
			Interval: 2 * time.Minute, Basics: store.Basics{Prevent: true, Threshold: threshold}}
		if err := st.CreateConfiguration(ctx, c, "syncbench"); err != nil {
			st.Close()
			return section{}, err
		}
	}
	st.Close()
	b.logf("writing %d log entries", entries)
	start := time.Now()
	now := start
	if err := fillLog(ctx, path, entries, now); err != nil {
		return section{}, err
	}
	b.logf("  written in %s", formatDuration(time.Since(start)))
	st, ts, err := newPortal(ctx, path)
	if err != nil {
		return section{}, err
	}
	defer st.Close()
	defer ts.Close()
	// What `serve` does in the background after cycles: the text index.
	start = time.Now()
	for {
		n, err := st.IndexLogText(ctx, 100_000)
		if err != nil {
			return section{}, err
		}
		if n == 0 {
			break
		}
	}
	indexed := time.Since(start)
	b.logf("  text index built in %s", formatDuration(indexed))
	c, err := signIn(ts.URL)
	if err != nil {
		return section{}, err
	}
	perConfig := entries / logConfigs
	day := func(d time.Time) string { return d.Local().Format("2006-01-02") }
	mid := now.Add(-15 * 24 * time.Hour)
	cases := []struct {
		what  string
		query func(cfg int) string
	}{
		{"newest first, no filter", func(int) string { return "" }},
		{"action = Delete", func(int) string { return "?action=Delete" }},
		{"status = Failure", func(int) string { return "?status=Failure" }},
		{"object type = group", func(int) string { return "?type=group" }},
		{"one cycle", func(cfg int) string {
			return fmt.Sprintf("?cycle=%d", (cfg-1)*100000+(perConfig/perCycle)/2+1)
		}},
		{"date range (2 days, 2 weeks back)", func(int) string {
			return "?from=" + day(mid) + "&to=" + day(mid.Add(24*time.Hour))
		}},
		{"text search, rare (one uid)", func(int) string { return fmt.Sprintf("?q=u%d,", perConfig/3) }},
		{"text search, common (an OU)", func(int) string { return "?q=ou%3DFinance" }},
		{"text search, no match", func(int) string { return "?q=nobody-by-that-name" }},
		{"deep keyset page (half-way down)", func(cfg int) string {
			return fmt.Sprintf("?before=%d", (perConfig/2)*logConfigs+cfg)
		}},
		{"deep keyset page + action = Update", func(cfg int) string {
			return fmt.Sprintf("?action=Update&before=%d", (perConfig/2)*logConfigs+cfg)
		}},
	}
	const n = 200
	var rows []row
	measure := func(what, target string, limit time.Duration, path func(cfg int) string) error {
		var lat []time.Duration
		for i := range n + logConfigs {
			cfg := i%logConfigs + 1
			t := time.Now()
			body, status, err := c.get(path(cfg))
			d := time.Since(t)
			if err != nil {
				return err
			}
			if status != http.StatusOK {
				return fmt.Errorf("%s: status %d: %.300s", path(cfg), status, body)
			}
			if i >= logConfigs { // one round over the configurations warms the caches
				lat = append(lat, d)
			}
		}
		p50, p99 := percentile(lat, 50), percentile(lat, 99)
		b.logf("  %-40s p50 %s  p99 %s", what, formatLatency(p50), formatLatency(p99))
		rows = append(rows, row{What: what, Value: fmt.Sprintf("p50 %s, p99 %s", formatLatency(p50), formatLatency(p99)),
			Target: target, Met: yesNo(p99 <= limit)})
		return nil
	}
	for _, cs := range cases {
		if err := measure("Log page: "+cs.what, "p99 ≤ 50 ms", 50*time.Millisecond, func(cfg int) string {
			return fmt.Sprintf("/configurations/%d/logs%s", cfg, cs.query(cfg))
		}); err != nil {
			return section{}, err
		}
	}
	if err := measure("Configuration page", "p99 ≤ 20 ms", 20*time.Millisecond, func(cfg int) string {
		return fmt.Sprintf("/configurations/%d", cfg)
	}); err != nil {
		return section{}, err
	}
	if err := measure("Configurations list", "–", time.Hour, func(int) string { return "/configurations" }); err != nil {
		return section{}, err
	}
	rows[len(rows)-1].Target, rows[len(rows)-1].Met = "", ""
	rows = append(rows, row{What: "Text index of the whole log, built in the background (`serve`), off the cycles",
		Value: fmt.Sprintf("%s (%s entries/s)", formatDuration(indexed), thousands(int(float64(entries)/indexed.Seconds())))})
	return section{
		Title: fmt.Sprintf("Provisioning log, %s entries", thousands(entries)),
		About: fmt.Sprintf("%s entries over %d configurations (%s each, %s per cycle, 29 days), written with SQL; "+
			"each page is requested %d times in turn over the configurations through the real portal "+
			"(web.New on httptest, loopback HTTP, signed in), one request at a time, after one round over the configurations to warm the caches.",
			thousands(entries), logConfigs, thousands(perConfig), thousands(perCycle), n),
		Rows: rows,
	}, nil
}

// percentile returns the p-th percentile (nearest rank) of d.
func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

// formatLatency prints a latency with a precision that suits it.
func formatLatency(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}
