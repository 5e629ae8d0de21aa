package main

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func configShow(h *harness, name string) jsonObject {
	h.t.Helper()
	var c jsonObject
	h.json(&c, "config", "show", name, "--json")
	requireKeys(h.t, "config show --json", c, "name", "source", "base_dn", "scope", "threshold", "prevent", "email", "interval")
	return c
}

func TestConfigAddShowList(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ldif := writeLDIF(t, h.dir)

	r := h.ok("config", "add", "corp", "--source", "ldif:"+ldif, "--base-dn", testBase)
	if want := `added configuration "corp"`; !strings.Contains(r.stdout, want) {
		t.Errorf("config add: stdout = %q, want %q", r.stdout, want)
	}
	// The defaults of SPEC section 2: guard on, threshold 500, every 2 minutes.
	c := configShow(h, "corp")
	want := jsonObject{"name": "corp", "source": "ldif:" + ldif, "base_dn": testBase, "scope": []any{},
		"threshold": float64(500), "prevent": true, "email": "", "interval": "2m0s"}
	for k, v := range want {
		if !equalJSON(c[k], v) {
			t.Errorf("config show --json: %s = %v, want %v", k, c[k], v)
		}
	}

	// Every flag of config add; --scope repeats.
	sales, eng := "ou=Sales,"+testBase, "ou=Engineering,"+testBase
	h.ok("config", "add", "branch", "--source", "ldif:"+ldif, "--base-dn", testBase,
		"--scope", sales, "--scope", eng, "--threshold", "1,000", "--email", "ops@corp.example",
		"--prevent=false", "--interval", "90s")
	c = configShow(h, "branch")
	want = jsonObject{"name": "branch", "scope": []any{sales, eng}, "threshold": float64(1000), "prevent": false,
		"email": "ops@corp.example", "interval": "1m30s"}
	for k, v := range want {
		if !equalJSON(c[k], v) {
			t.Errorf("config show branch --json: %s = %v, want %v", k, c[k], v)
		}
	}

	// The text form speaks the portal's words.
	r = h.ok("config", "show", "branch")
	for _, s := range []string{"Notification email", "ops@corp.example", "Prevent accidental deletions", "off",
		"Accidental deletion threshold", "1000", sales, eng, "Not run yet"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("config show branch: output lacks %q:\n%s", s, r.stdout)
		}
	}

	// A name is taken once.
	r = h.want(exitError, "config", "add", "corp", "--source", "ldif:"+ldif, "--base-dn", testBase)
	if want := `a configuration named "corp" already exists`; !strings.Contains(r.stderr, want) {
		t.Errorf("duplicate config add: stderr = %q, want %q", r.stderr, want)
	}

	// config list --json: every configuration, by name, with the keys of config show.
	var list []jsonObject
	h.json(&list, "config", "list", "--json")
	if len(list) != 2 {
		t.Fatalf("config list --json: %d configurations, want 2: %v", len(list), list)
	}
	for i, name := range []string{"branch", "corp"} {
		requireKeys(t, "config list --json", list[i], "name", "source", "base_dn", "scope", "threshold", "prevent", "email", "interval")
		if list[i]["name"] != name {
			t.Errorf("config list --json [%d] = %v, want %s", i, list[i]["name"], name)
		}
	}
	r = h.ok("config", "list")
	for _, s := range []string{"NAME", "branch", "corp", "Not run yet", "ldif:" + ldif} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("config list: output lacks %q:\n%s", s, r.stdout)
		}
	}
	// With no configuration, an empty array (not null).
	h2 := newHarness(t)
	if r := h2.ok("config", "list", "--json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("config list --json on an empty database = %q, want []", r.stdout)
	}
}

func TestConfigSet(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ldif := writeLDIF(t, h.dir)
	sales, eng, fin := "ou=Sales,"+testBase, "ou=Engineering,"+testBase, "ou=Finance,"+testBase
	h.ok("config", "add", "corp", "--source", "ldif:"+ldif, "--base-dn", testBase,
		"--scope", sales, "--scope", eng, "--email", "ops@corp.example", "--interval", "5m")
	orig := configShow(h, "corp")

	// Only the flags given change.
	steps := []struct {
		args    []string
		changes jsonObject
	}{
		{[]string{"--threshold", "250"}, jsonObject{"threshold": float64(250)}},
		{[]string{"--prevent=false"}, jsonObject{"prevent": false}},
		{[]string{"--email", "alerts@corp.example"}, jsonObject{"email": "alerts@corp.example"}},
		{[]string{"--interval", "10m", "--prevent"}, jsonObject{"interval": "10m0s", "prevent": true}},
		// --scope replaces the whole list, here with one OU.
		{[]string{"--scope", fin}, jsonObject{"scope": []any{fin}}},
		{[]string{"--scope", eng, "--scope", sales}, jsonObject{"scope": []any{eng, sales}}},
		// An empty email turns the notification off.
		{[]string{"--email", ""}, jsonObject{"email": ""}},
	}
	want := orig
	for _, step := range steps {
		r := h.ok(append([]string{"config", "set", "corp"}, step.args...)...)
		if want := `updated configuration "corp"`; !strings.Contains(r.stdout, want) {
			t.Errorf("config set %v: stdout = %q, want %q", step.args, r.stdout, want)
		}
		for k, v := range step.changes {
			want[k] = v
		}
		got := configShow(h, "corp")
		for k := range want {
			if !equalJSON(got[k], want[k]) {
				t.Errorf("after config set %v: %s = %v, want %v", step.args, k, got[k], want[k])
			}
		}
	}
	// Flags may come before the name, and globals too.
	h.ok("config", "set", "--threshold", "42", "--db", h.db, "corp")
	if got := configShow(h, "corp")["threshold"]; got != float64(42) {
		t.Errorf("threshold = %v, want 42", got)
	}
}

// TestBindPasswordNeverShown sets a bind password and checks that it
// appears in no output of any command.
func TestBindPasswordNeverShown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ldif := writeLDIF(t, h.dir)
	const secret = "Tr0ub4dor&3-bind-secret"
	pwFile := h.path("bind-password")
	if err := os.WriteFile(pwFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// An LDAP configuration that is never synced, and an LDIF one that is.
	h.ok("config", "add", "ad", "--source", "ldap://127.0.0.1:1", "--base-dn", testBase,
		"--bind-dn", "cn=sync,"+testBase, "--bind-password-file", pwFile, "--email", "ops@corp.example")
	h.addCorp(ldif, "--bind-dn", "cn=sync,"+testBase, "--bind-password-file", pwFile, "--email", "ops@corp.example")
	h.ok("config", "set", "ad", "--bind-password-file", pwFile, "--threshold", "7")
	h.ok("config", "set", "corp", "--bind-password-file", pwFile)

	for _, args := range [][]string{
		{"config", "show", "ad"}, {"config", "show", "ad", "--json"},
		{"config", "show", "corp"}, {"config", "show", "corp", "--json"},
		{"config", "list"}, {"config", "list", "--json"},
		{"sync", "corp"}, {"status", "corp"}, {"status", "corp", "--json"},
		{"logs", "corp", "--limit", "5"}, {"logs", "corp", "--limit", "5", "--json"},
		{"objects", "corp"}, {"objects", "corp", "--json"},
		{"outbox"}, {"outbox", "--json"},
		{"config", "add", "--help"},
	} {
		h.ok(args...)
	}
	// The LDAP source is unreachable: a Failed cycle with its error.
	h.want(exitError, "sync", "ad")
	h.ok("status", "ad", "--json")

	if strings.Contains(h.transcript.String(), secret) {
		t.Errorf("the bind password appears in an output:\n%s", h.transcript.String())
	}
	// It is kept all the same: config show says there is a bind DN.
	if got := configShow(h, "ad")["bind_dn"]; got != "cn=sync,"+testBase {
		t.Errorf("bind_dn = %v, want cn=sync,%s", got, testBase)
	}
	// A bind password file that cannot be read is an error, and changes nothing.
	r := h.want(exitError, "config", "set", "ad", "--bind-password-file", h.path("missing"))
	if !strings.Contains(r.stderr, "bind password file") {
		t.Errorf("missing bind password file: stderr = %q", r.stderr)
	}
}

// equalJSON compares decoded JSON values.
func equalJSON(a, b any) bool { return reflect.DeepEqual(a, b) }

// TestConfigLDAPSettings: the bind method and the TLS pin and server name
// are set, shown and changed; bad values, a bind in clear over the network
// and TLS settings that would be ignored are refused with exit 2 and
// change nothing.
func TestConfigLDAPSettings(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	pwFile := h.path("bind-password")
	if err := os.WriteFile(pwFile, []byte("Svc-Passw0rd!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const pin = "sha256:f275a53848673ed00f8095cd80aeb1500ccc6ebad1011e6917463ce0c79c79cd"
	h.ok("config", "add", "ad", "--source", "ldaps://dc1.corp.example", "--base-dn", testBase,
		"--bind-method", "ntlm", "--bind-dn", `CORP\svc-sync`, "--bind-password-file", pwFile,
		"--tls-pin", "SHA256:F2:75:A5:38:48:67:3E:D0:0F:80:95:CD:80:AE:B1:50:0C:CC:6E:BA:D1:01:1E:69:17:46:3C:E0:C7:9C:79:CD",
		"--tls-server-name", "dc1.corp.example")
	c := configShow(h, "ad")
	for k, v := range map[string]any{"bind_method": "ntlm", "bind_dn": `CORP\svc-sync`, "tls_pin": pin, "tls_server_name": "dc1.corp.example"} {
		if c[k] != v {
			t.Errorf("config show --json: %s = %v, want %v", k, c[k], v)
		}
	}
	r := h.ok("config", "show", "ad")
	for _, s := range []string{"Bind method", "ntlm", "TLS pin", pin, "TLS server name", "dc1.corp.example"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("config show ad: output lacks %q:\n%s", s, r.stdout)
		}
	}
	h.ok("config", "set", "ad", "--bind-method", "simple", "--tls-pin", "", "--tls-server-name", "")
	c = configShow(h, "ad")
	for k, v := range map[string]any{"bind_method": "simple", "tls_pin": "", "tls_server_name": ""} {
		if c[k] != v {
			t.Errorf("after config set: %s = %v, want %v", k, c[k], v)
		}
	}
	// An LDIF configuration says simple, and nothing else, too.
	h.addCorp(writeLDIF(t, h.dir))
	if got := configShow(h, "corp")["bind_method"]; got != "simple" {
		t.Errorf("bind_method of an LDIF configuration = %v", got)
	}

	before := configShow(h, "ad")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown bind method", []string{"--bind-method", "kerberos"}, `--bind-method: "kerberos" is not a bind method: use simple or ntlm`},
		{"pin too short", []string{"--tls-pin", "sha256:f275a5"}, `--tls-pin: TLS pin "sha256:f275a5": want sha256: and the 64 hex digits`},
		{"pin without its algorithm", []string{"--tls-pin", strings.TrimPrefix(pin, "sha256:")}, "--tls-pin: TLS pin"},
		{"NTLM with a DN", []string{"--bind-method", "ntlm", "--bind-dn", "CN=svc," + testBase}, "an NTLM bind names its account DOMAIN\\user or user@domain, not by a DN"},
		{"bind in clear", []string{"--source", "ldap://dc1.corp.example:389"}, `refusing to bind as CORP\svc-sync in clear over the network: use ldaps:// or StartTLS`},
		{"CA file without TLS", []string{"--source", "ldap://127.0.0.1:389", "--ca-file", pwFile}, "TLS settings (a CA, a pin, a server name) would be ignored without TLS"},
		{"server name without TLS", []string{"--source", "ldap://127.0.0.1:389", "--tls-server-name", "dc1"}, "would be ignored without TLS"},
		{"CA file that is no certificate", []string{"--ca-file", pwFile}, "holds no PEM certificate"},
	} {
		r := h.want(exitUsage, append([]string{"config", "set", "ad"}, tc.args...)...)
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: stderr = %q, want it to contain %q", tc.name, r.stderr, tc.want)
		}
		if strings.Contains(r.stderr, "Svc-Passw0rd!") {
			t.Errorf("%s: stderr shows the bind password: %q", tc.name, r.stderr)
		}
	}
	r = h.want(exitUsage, "config", "add", "clear", "--source", "ldap://dc1.corp.example", "--base-dn", testBase,
		"--bind-dn", "cn=svc,"+testBase, "--bind-password-file", pwFile)
	if want := "refusing to bind as cn=svc," + testBase + " in clear over the network"; !strings.Contains(r.stderr, want) {
		t.Errorf("config add in clear: stderr = %q, want %q", r.stderr, want)
	}
	// StartTLS makes it acceptable; so does a loopback address.
	h.ok("config", "add", "starttls", "--source", "ldap://dc1.corp.example", "--starttls", "--base-dn", testBase,
		"--bind-dn", "cn=svc,"+testBase, "--bind-password-file", pwFile)
	h.ok("config", "add", "local", "--source", "ldap://localhost:389", "--base-dn", testBase,
		"--bind-dn", "cn=svc,"+testBase, "--bind-password-file", pwFile)
	after := configShow(h, "ad")
	for k := range before {
		if !equalJSON(after[k], before[k]) {
			t.Errorf("a refused config set changed %s: %v → %v", k, before[k], after[k])
		}
	}
	var list []jsonObject
	h.json(&list, "config", "list", "--json")
	if len(list) != 4 {
		t.Errorf("config list: %d configurations, want ad, corp, local and starttls", len(list))
	}
}
