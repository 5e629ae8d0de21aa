package store

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestEditsKeepEachOther: an admin saving Basics in the portal while
// another runs `config set --interval` must not undo the other's change:
// each edit applies to the configuration as it is when it is saved.
func TestEditsKeepEachOther(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	c := &Configuration{Name: "corp", Source: "ldif:/x.ldif", BaseDN: "dc=corp,dc=example", Interval: time.Minute,
		Basics: Basics{Prevent: true, Threshold: 50, Email: "a@corp.example"}}
	if err := s.CreateConfiguration(ctx, c, "test"); err != nil {
		t.Fatal(err)
	}
	const rounds = 40
	var wg sync.WaitGroup
	edit := func(actor string, change func(i int, c *Configuration)) {
		defer wg.Done()
		for i := 1; i <= rounds; i++ {
			if _, err := s.EditConfiguration(ctx, c.ID, actor, func(cur *Configuration) error {
				change(i, cur)
				return nil
			}); err != nil {
				t.Error(err)
				return
			}
		}
	}
	wg.Add(2)
	go edit("portal", func(i int, c *Configuration) { c.Basics.Email = fmt.Sprintf("admin%d@corp.example", i) })
	go edit("cli", func(i int, c *Configuration) { c.Interval = time.Duration(i+1) * time.Minute })
	wg.Wait()
	got, err := s.Configuration(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("admin%d@corp.example", rounds); got.Basics.Email != want {
		t.Errorf("email = %q, want %q (the portal's last save)", got.Basics.Email, want)
	}
	if want := (rounds + 1) * time.Minute; got.Interval != want {
		t.Errorf("interval = %s, want %s (the CLI's last change)", got.Interval, want)
	}
	events, err := s.AuditEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	edits := 0
	for _, e := range events {
		if e.Action == "Edited Basics" || e.Action == "Edited configuration" {
			edits++
		}
	}
	if edits != 2*rounds {
		t.Errorf("%d edits audited, want %d", edits, 2*rounds)
	}
}

// TestEditConfigurationRefused: an edit that fails changes nothing and its
// error comes back as it is.
func TestEditConfigurationRefused(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	c := &Configuration{Name: "corp", Source: "ldif:/x.ldif", Interval: time.Minute, Basics: Basics{Prevent: true, Threshold: 50}}
	if err := s.CreateConfiguration(ctx, c, "test"); err != nil {
		t.Fatal(err)
	}
	refusal := Errorf(Invalid, "no")
	_, err := s.EditConfiguration(ctx, c.ID, "cli", func(cur *Configuration) error {
		cur.Basics.Threshold = 7
		return refusal
	})
	if err != refusal {
		t.Errorf("error = %v, want the edit's own", err)
	}
	got, _ := s.Configuration(ctx, c.ID)
	if got.Basics.Threshold != 50 {
		t.Errorf("threshold = %d after a refused edit, want 50", got.Basics.Threshold)
	}
}
