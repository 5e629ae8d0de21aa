package guard

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncguard/syncguard/guard/demo"
	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/store"
)

// browseSources are the same tree as an LDIF file and behind a slapd,
// read anonymously (so that the size limit of 500 holds).
func browseSources(t *testing.T) map[string]*store.Configuration {
	t.Helper()
	data := demo.Tree()
	path := filepath.Join(t.TempDir(), "tree.ldif")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := slapdtest.Start(t, slapdtest.Options{LDIF: data})
	return map[string]*store.Configuration{
		"ldif": {Source: "ldif:" + path, BaseDN: demo.BaseDN},
		"ldap": {Source: srv.URL, BaseDN: demo.BaseDN},
	}
}

func names(cs []Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// The scope picker reads one level at a time, three deep, and a level of
// 600 OUs in pages; it counts users and groups below the ticked OUs.
func TestBrowseContainers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	opts := SourceOptions{PageSize: 100}
	for kind, cfg := range browseSources(t) {
		t.Run(kind, func(t *testing.T) {
			top, err := Children(ctx, cfg, opts, "")
			if err != nil {
				t.Fatalf("children of the base: %v", err)
			}
			if got, want := strings.Join(names(top), ","), "Branches,Engineering,Groups,Regions,Sales"; got != want {
				t.Errorf("top level = %s, want %s", got, want)
			}
			emea, err := Children(ctx, cfg, opts, "ou=EMEA,ou=Regions,"+demo.BaseDN)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Join(names(emea), ","), "Berlin,Paris"; got != want {
				t.Errorf("depth 3 = %s, want %s", got, want)
			}
			if kind == "ldap" && emea[0].Children {
				t.Errorf("ou=Berlin says it has children; slapd says hasSubordinates FALSE")
			}
			wide, err := Children(ctx, cfg, opts, "ou=Branches,"+demo.BaseDN)
			if err != nil {
				t.Fatalf("a level of 600: %v", err)
			}
			if len(wide) != 600 || wide[0].Name != "Branch 000" || wide[599].Name != "Branch 599" {
				t.Errorf("wide level: %d OUs from %q, want 600 sorted", len(wide), names(wide[:min(2, len(wide))]))
			}
			if _, err := Children(ctx, cfg, opts, "ou=Elsewhere,dc=other"); store.ErrorCode(err) != store.Invalid {
				t.Errorf("a DN outside the base: %v, want Invalid", err)
			}
			counts, err := CountObjects(ctx, cfg, opts, []string{"ou=Sales," + demo.BaseDN, demo.BaseDN, "ou=Regions," + demo.BaseDN})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := fmt.Sprint(counts), "[{20 0} {40 2} {0 0}]"; got != want {
				t.Errorf("counts = %s, want %s", got, want)
			}
			rep, err := TestSource(ctx, cfg, opts)
			if err != nil {
				t.Fatalf("test source: %v", err)
			}
			if rep.DefaultBase != demo.BaseDN || rep.Below != 5 {
				t.Errorf("report = %+v, want default base %s and 5 containers below", rep, demo.BaseDN)
			}
		})
	}
}

// Test connection says what failed in an admin's words: nothing
// listening, a wrong password, a base DN that is not there.
func TestTestSourceRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := slapdtest.Start(t, slapdtest.Options{LDIF: demo.Tree()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "ldap://" + ln.Addr().String()
	ln.Close()
	for _, tt := range []struct {
		name string
		cfg  store.Configuration
		want []string
	}{
		{"nothing listening", store.Configuration{Source: closed, BaseDN: demo.BaseDN},
			[]string{"connection refused", "Nothing answers at that address"}},
		{"wrong password", store.Configuration{Source: srv.URL, BaseDN: demo.BaseDN, BindDN: srv.RootDN, BindPassword: "wrong"},
			[]string{"bind as " + srv.RootDN, "invalid credentials", "Check the bind DN and the password"}},
		{"no such base", store.Configuration{Source: srv.URL, BaseDN: "ou=Nowhere," + demo.BaseDN, BindDN: srv.RootDN, BindPassword: srv.RootPW},
			[]string{"no such object", "The base DN does not exist"}},
		{"missing file", store.Configuration{Source: "ldif:/nonexistent/export.ldif"},
			[]string{"no such file or directory", "give its path there"}},
	} {
		_, err := TestSource(ctx, &tt.cfg, SourceOptions{})
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		msg := Explain(err)
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q lacks %q", tt.name, msg, w)
			}
		}
		if strings.Contains(msg, "wrong") && tt.cfg.BindPassword == "wrong" {
			t.Errorf("%s: the message holds the password: %q", tt.name, msg)
		}
	}
}
