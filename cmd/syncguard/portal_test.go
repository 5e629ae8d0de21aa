package main

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/syncguard/syncguard/store"
)

// config delete wants --yes; it takes the configuration and what syncguard
// kept of it, leaves the audit with the event, and refuses while a cycle
// holds the configuration.
func TestConfigDelete(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addCorp(writeLDIF(t, h.dir))
	h.ok("sync", "corp")
	before := dumpDB(t, h.db)
	if r := h.want(exitUsage, "config", "delete", "corp"); !strings.Contains(r.stderr, "add --yes to confirm") {
		t.Errorf("without --yes: %s", r)
	}
	if after := dumpDB(t, h.db); after != before {
		t.Errorf("config delete without --yes changed the database:\n%s", firstDiff(before, after))
	}

	st, err := store.Open(context.Background(), h.db)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := st.ConfigurationByName(context.Background(), "corp")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := st.AcquireCycleLock(context.Background(), cfg.ID, "a running cycle", os.Getpid(), "elsewhere", st.Now().Add(time.Minute)); !ok || err != nil {
		t.Fatalf("hold the cycle lock: %v %v", ok, err)
	}
	if r := h.want(exitError, "config", "delete", "corp", "--yes"); !strings.Contains(r.stderr, "A cycle of corp is running") {
		t.Errorf("while a cycle runs: %s", r)
	}
	if err := st.ReleaseCycleLock(context.Background(), cfg.ID, "a running cycle"); err != nil {
		t.Fatal(err)
	}
	st.Close()

	if r := h.ok("config", "delete", "corp", "--yes"); !strings.Contains(r.stdout, "deleted configuration corp") {
		t.Errorf("config delete: %s", r)
	}
	h.want(exitError, "status", "corp")
	if r := h.ok("config", "list"); strings.Contains(r.stdout, "corp") {
		t.Errorf("config list after delete: %s", r)
	}
	st, err = store.Open(context.Background(), h.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	events, err := st.AuditEvents(context.Background(), 0, 10)
	if err != nil || len(events) == 0 || events[0].Action != "Deleted configuration" || events[0].Actor != "cli" || events[0].ConfigName != "corp" {
		t.Errorf("audit after delete: %+v, %v", events, err)
	}
}

// user list shows every user with its role and last sign-in; --json has
// the stable keys.
func TestUserList(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.runIn("correct horse battery staple\n", "user", "add", "alice", "--role", "admin")
	h.runIn("another long passphrase\n", "user", "add", "bob", "--role", "viewer")
	var users []jsonObject
	h.json(&users, "user", "list", "--json")
	if len(users) != 2 {
		t.Fatalf("user list --json: %v", users)
	}
	for _, u := range users {
		requireKeys(t, "user list --json", u, "name", "role", "created_at", "last_sign_in_at")
	}
	if users[0]["name"] != "alice" || users[0]["role"] != "admin" || users[1]["name"] != "bob" || users[1]["last_sign_in_at"] != nil {
		t.Errorf("user list --json = %v", users)
	}
	if _, err := time.Parse(time.RFC3339, users[0]["created_at"].(string)); err != nil {
		t.Errorf("created_at: %v", err)
	}
	r := h.ok("user", "list")
	if !strings.Contains(r.stdout, "alice") || !strings.Contains(r.stdout, "never") {
		t.Errorf("user list: %s", r)
	}
}

// serve --metrics-token-file serves /metrics to that bearer token: the
// cycles run by `syncguard sync`, other processes, count.
func TestServeMetrics(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addCorp(writeLDIF(t, h.dir))
	tokenFile := h.path("metrics.token")
	const token = "a-long-random-metrics-token"
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.ok("sync", "corp") // before serve: its scheduler finds nothing due
	_, url := startServe(t, []string{"SYNCGUARD_DB=" + h.db}, "--metrics-token-file", tokenFile, "--tick", "1h")
	h.ok("sync", "corp") // while serve runs

	scrape := func(auth string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, url+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if resp := scrape(""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: %d, want 401", resp.StatusCode)
	}
	resp := scrape("Bearer " + token)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with the token: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	cycles := families["syncguard_cycles_total"]
	if cycles == nil || len(cycles.Metric) != 1 || cycles.Metric[0].GetCounter().GetValue() != 2 {
		t.Errorf("syncguard_cycles_total after two syncs = %v", cycles)
	}

	if r := h.run("serve", "--metrics-token-file", h.path("missing")); r.code != exitError || !strings.Contains(r.stderr, "metrics token file") {
		t.Errorf("a missing token file: %s", r)
	}
}
