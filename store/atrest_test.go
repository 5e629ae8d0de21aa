package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncguard/syncguard/store"
)

const bindSecret = "Bind-Secret-4242-xyzzy"

func openAt(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func addLDAPConfiguration(t *testing.T, st *store.Store, name, password string) *store.Configuration {
	t.Helper()
	cfg := &store.Configuration{Name: name, Source: "ldaps://ldap.corp.example:636", BaseDN: "dc=corp,dc=example",
		BindDN: "cn=sync,dc=corp,dc=example", BindPassword: password, Interval: time.Minute,
		Basics: store.Basics{Prevent: true, Threshold: 10}}
	if err := st.CreateConfiguration(context.Background(), cfg, "test"); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The database, its WAL and shared-memory files are readable by their
// owner only, whatever the umask: new ones are made so, and older ones
// (0644) are made so when opened.
func TestDatabaseFilesOwnerOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "syncguard.db")
	st := openAt(t, path)
	addLDAPConfiguration(t, st, "corp", bindSecret)
	checkOwnerOnly(t, path, path+"-wal", path+"-shm")
	st.Close()

	// A database left by an older syncguard, readable by everyone.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if _, err := os.Stat(p); err == nil {
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	st = openAt(t, path)
	if _, err := st.Configurations(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkOwnerOnly(t, path, path+"-wal", path+"-shm")
}

func checkOwnerOnly(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
			continue
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %04o, want it readable by its owner only (0600)", filepath.Base(p), perm)
		}
	}
}

// The bind password is not in the database file in clear: not in the
// column, not anywhere in the file's bytes.
func TestBindPasswordEncryptedAtRest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "syncguard.db")
	st := openAt(t, path)
	cfg := addLDAPConfiguration(t, st, "corp", bindSecret)
	cfg.BindPassword = bindSecret + "-changed"
	if err := st.UpdateConfiguration(context.Background(), cfg, "test"); err != nil {
		t.Fatal(err)
	}
	got, err := st.Configuration(context.Background(), cfg.ID)
	if err != nil || got.BindPassword != bindSecret+"-changed" {
		t.Fatalf("bind password read back = %q, %v", got.BindPassword, err)
	}
	st.Close()

	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := db.QueryRow(`SELECT bind_password FROM configurations WHERE id = ?`, cfg.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if stored == "" || strings.Contains(stored, "Bind-Secret") {
		t.Errorf("configurations.bind_password holds %q, want it encrypted", stored)
	}
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("Bind-Secret")) {
			t.Errorf("%s holds the bind password in clear", filepath.Base(p))
		}
	}
}

// The secret key file is made beside the database, 0600; a copy of the
// database without it reveals no secret and says which key it needs; with
// another key, reading a secret is a clear error, never garbage.
func TestSecretKeyFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "syncguard.db")
	st := openAt(t, path)
	cfg := addLDAPConfiguration(t, st, "corp", bindSecret)
	st.Close()
	keyFile := filepath.Join(dir, "syncguard.key")
	if store.DefaultSecretKeyFile(path) != keyFile {
		t.Errorf("DefaultSecretKeyFile = %s, want %s", store.DefaultSecretKeyFile(path), keyFile)
	}
	checkOwnerOnly(t, keyFile)
	key, err := os.ReadFile(keyFile)
	if err != nil || len(key) != 32 {
		t.Fatalf("key file: %d bytes, %v", len(key), err)
	}

	// The same key again, named explicitly: the secret reads back.
	st, err = store.OpenWith(ctx, path, store.Options{SecretKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := st.Configuration(ctx, cfg.ID); err != nil || got.BindPassword != bindSecret {
		t.Errorf("with its key: bind password %q, %v", got.BindPassword, err)
	}
	st.Close()

	// The database copied elsewhere without its key.
	copyDir := t.TempDir()
	copied := filepath.Join(copyDir, "syncguard.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copied, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = store.Open(ctx, copied)
	if !errors.Is(err, store.ErrSecretKey) || !strings.Contains(err.Error(), "syncguard.key does not exist") {
		t.Errorf("opening a copy without its key: %v; want a clear error about the key file", err)
	}
	if _, err := os.Stat(filepath.Join(copyDir, "syncguard.key")); err == nil {
		t.Error("a new key was made for a database whose secrets need the old one")
	}

	// Another key: opens, but the secret is refused with a clear error.
	other := filepath.Join(copyDir, "other.key")
	if err := os.WriteFile(other, bytes.Repeat([]byte{7}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err = store.OpenWith(ctx, copied, store.Options{SecretKeyFile: other})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.Configuration(ctx, cfg.ID)
	if !errors.Is(err, store.ErrSecretKey) || !strings.Contains(err.Error(), "other.key") {
		t.Errorf("reading with another key: %+v, %v; want an error naming the key file", got, err)
	}
	if _, err := st.ConfigurationByName(ctx, "corp"); !errors.Is(err, store.ErrSecretKey) {
		t.Errorf("by name with another key: %v", err)
	}
	// The admin reads which key is needed, not how the row was scanned.
	if err != nil && strings.Contains(err.Error(), "sql:") {
		t.Errorf("reading with another key: %v; want the key's message without database/sql's wording", err)
	}

	// A key file of the wrong size is refused.
	bad := filepath.Join(copyDir, "short.key")
	if err := os.WriteFile(bad, []byte("too short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := store.OpenWith(ctx, copied, store.Options{SecretKeyFile: bad}); err == nil || !strings.Contains(err.Error(), "want 32") {
		t.Errorf("a 9-byte key file: %v", err)
	}
}

// Migration 005 encrypts the bind passwords an older syncguard stored in
// clear (they read back the same), deletes the old session keys, and
// renames a configuration whose name held a line break.
func TestMigrationOfAnOlderDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "syncguard.db")
	st := openAt(t, path)
	cfg := addLDAPConfiguration(t, st, "corp", "")
	// The state an older syncguard left: the passwords in clear, a name
	// with a line break, 005 not applied.
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	two := addLDAPConfiguration(t, st, "two", "")
	st.Close()
	for _, q := range []string{
		`UPDATE configurations SET bind_password = '` + bindSecret + `'`,
		`UPDATE configurations SET name = 'bad' || char(13, 10) || 'name' WHERE id = ` + strconv.FormatInt(two.ID, 10),
		`DELETE FROM schema_migrations WHERE version = 5`,
		`DROP TABLE sessions`,
		`INSERT INTO settings (key, value) VALUES ('session_keys', x'00')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	st = openAt(t, path)
	got, err := st.Configuration(ctx, cfg.ID)
	if err != nil || got.BindPassword != bindSecret {
		t.Fatalf("after the migration: %q, %v", got.BindPassword, err)
	}
	if got, err := st.Configuration(ctx, two.ID); err != nil || got.Name != "bad??name" {
		t.Errorf("a name with a line break after the migration: %q, %v; want bad??name", got.Name, err)
	}
	st.Close()
	db, err = sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stored string
	var keys int
	if err := db.QueryRow(`SELECT bind_password, (SELECT count(*) FROM settings WHERE key = 'session_keys') FROM configurations`).Scan(&stored, &keys); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, bindSecret) || !strings.HasPrefix(stored, "sg1:") {
		t.Errorf("after the migration the column holds %q", stored)
	}
	if keys != 0 {
		t.Error("the old session keys are still in the database")
	}
}
