package slapdtest

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Skipf and Fatalf instead of stopping.
type recorder struct {
	testing.TB
	skipped, fatal string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Skipf(f string, args ...any)  { r.skipped = fmt.Sprintf(f, args...) }
func (r *recorder) Fatalf(f string, args ...any) { r.fatal = fmt.Sprintf(f, args...) }

func TestRequireWithoutSlapd(t *testing.T) {
	saved := sbinDirs
	sbinDirs = nil
	t.Cleanup(func() { sbinDirs = saved })
	t.Setenv("PATH", t.TempDir())

	const want = "slapd not found: install with apt-get install slapd ldap-utils (with CI=true this fails)"
	t.Setenv("CI", "")
	r := &recorder{TB: t}
	Require(r)
	if r.skipped != want || r.fatal != "" {
		t.Errorf("without CI: skipped %q, fatal %q; want skipped %q", r.skipped, r.fatal, want)
	}
	t.Setenv("CI", "true")
	r = &recorder{TB: t}
	Require(r)
	if r.fatal != want || r.skipped != "" {
		t.Errorf("with CI=true: skipped %q, fatal %q; want fatal %q", r.skipped, r.fatal, want)
	}
}

func TestStartStopRestart(t *testing.T) {
	s := Start(t, Options{Suffix: "o=Example"})
	c := s.Conn(t)
	res, err := c.WhoAmI(nil)
	if err != nil || !strings.EqualFold(res.AuthzID, "dn:cn=admin,o=example") {
		t.Fatalf("WhoAmI = %+v, %v", res, err)
	}
	url := s.URL
	s.Stop()
	s.Restart(t)
	if s.URL != url {
		t.Errorf("URL after restart = %s, want %s", s.URL, url)
	}
	s.Kill()
	s.Restart(t)
	c = s.Conn(t)
	if _, err := c.WhoAmI(nil); err != nil {
		t.Fatal(err)
	}
}
