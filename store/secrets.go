package store

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Secrets at rest (bind passwords today; SMTP passwords and target
// passwords and tokens when they are stored) are encrypted with AES-256-GCM
// under a key kept in a file outside the database. A copy of the database
// without that file holds no readable secret.
//
// A secret column is written and read through one pair of helpers, one
// line each, in the column's INSERT/UPDATE arguments and in its Scan:
//
//	tx.ExecContext(ctx, `UPDATE t SET token = ? WHERE id = ?`, s.sealed(c.Token), c.ID)
//	row.Scan(&c.ID, s.unsealed(&c.Token))
//
// A sealed value reads "sg1:<key id>:<base64 of nonce and ciphertext>"; an
// empty secret is stored empty. A value without that prefix (written by an
// older syncguard) reads as it is and is sealed at its next write.

// ErrSecretKey means a secret cannot be decrypted with the key syncguard
// was given: the database was written with another key file.
var ErrSecretKey = errors.New("the secret key file does not match")

const (
	secretPrefix = "sg1:"
	keySize      = 32
)

// keyring is the key of the secrets at rest.
type keyring struct {
	path string // the key file, for messages
	id   string // a short, public fingerprint of the key
	aead cipher.AEAD
	key  []byte
}

func newKeyring(path string, key []byte) (*keyring, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("syncguard key id"))
	return &keyring{path: path, id: hex.EncodeToString(mac.Sum(nil)[:4]), aead: aead, key: key}, nil
}

// seal encrypts a secret; "" stays "".
func (k *keyring) seal(plain string) (string, error) {
	if plain == "" {
		return "", nil
	}
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	ct := k.aead.Seal(nonce, nonce, []byte(plain), nil)
	return secretPrefix + k.id + ":" + base64.RawStdEncoding.EncodeToString(ct), nil
}

// open decrypts a sealed secret. A value of another key, or one that does
// not decrypt, is an error wrapping ErrSecretKey: never garbage.
func (k *keyring) open(stored string) (string, error) {
	rest, ok := strings.CutPrefix(stored, secretPrefix)
	if !ok {
		return stored, nil // written before secrets were encrypted
	}
	id, b64, _ := strings.Cut(rest, ":")
	if id != k.id {
		return "", fmt.Errorf("a secret was encrypted with key %s, but %s holds key %s: start syncguard with the key file "+
			"it was written with (--secret-key-file): %w", id, k.path, k.id, ErrSecretKey)
	}
	ct, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(ct) < k.aead.NonceSize() {
		return "", fmt.Errorf("a secret of key %s is damaged: %w", id, ErrSecretKey)
	}
	plain, err := k.aead.Open(nil, ct[:k.aead.NonceSize()], ct[k.aead.NonceSize():], nil)
	if err != nil {
		return "", fmt.Errorf("a secret of key %s does not decrypt with %s (damaged, or another key with the same id): %w",
			id, k.path, ErrSecretKey)
	}
	return string(plain), nil
}

// derive returns a key for purpose, derived from the secret key.
func (k *keyring) derive(purpose string) []byte {
	b, err := hkdf.Key(sha256.New, k.key, nil, "syncguard "+purpose, 32)
	if err != nil {
		panic(err) // only for lengths out of range
	}
	return b
}

// sealedValue encrypts a secret when the driver takes the argument.
type sealedValue struct {
	k     *keyring
	plain string
}

func (v sealedValue) Value() (driver.Value, error) { return v.k.seal(v.plain) }

// sealed is the argument that stores plain encrypted.
func (s *Store) sealed(plain string) driver.Valuer { return sealedValue{s.keys, plain} }

// unsealedDest decrypts a secret column into a string as it is scanned.
type unsealedDest struct {
	k   *keyring
	dst *string
}

func (d unsealedDest) Scan(src any) error {
	var stored string
	switch v := src.(type) {
	case nil:
	case string:
		stored = v
	case []byte:
		stored = string(v)
	default:
		return fmt.Errorf("store: a secret column holds a %T", src)
	}
	plain, err := d.k.open(stored)
	*d.dst = plain
	if err != nil {
		return keyError{err}
	}
	return nil
}

// keyError is a secret that did not decrypt, as its Scan returns it.
type keyError struct{ error }

func (e keyError) Unwrap() error { return e.error }

// scanError is err with database/sql's "Scan error on column" wording
// dropped when a secret did not decrypt: the reader needs only which key
// the secret wants.
func scanError(err error) error {
	var ke keyError
	if errors.As(err, &ke) {
		return ke.error
	}
	return err
}

// unsealed is the Scan destination that decrypts a secret column into dst.
func (s *Store) unsealed(dst *string) sql.Scanner { return unsealedDest{s.keys, dst} }

// DeriveKey returns a 32-byte key for purpose, derived from the secret key
// file: what only this installation can compute (a MAC key, for example),
// the same in every process that shares the database and its key.
func (s *Store) DeriveKey(purpose string) []byte { return s.keys.derive(purpose) }

// DefaultSecretKeyFile is where the secret key lives when no file is named:
// beside the database, named after it (syncguard.db → syncguard.key).
func DefaultSecretKeyFile(dbPath string) string {
	return strings.TrimSuffix(dbPath, filepath.Ext(dbPath)) + ".key"
}

// loadKeyring reads the key file, or creates it (random, 0600, never
// overwriting one that a racing process created) when it does not exist and
// the database holds no secret sealed with another key.
func (s *Store) loadKeyring(ctx context.Context, path string) (*keyring, error) {
	key, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		sealed, serr := s.sealedSecrets(ctx)
		if serr != nil {
			return nil, fmt.Errorf("store: secret key: %w", serr)
		}
		if sealed > 0 {
			return nil, fmt.Errorf("store: the secret key file %s does not exist, but this database holds secrets "+
				"encrypted with a key: restore that key file (or name it with --secret-key-file): %w", path, ErrSecretKey)
		}
		key, err = createKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("store: secret key file %s: %w", path, err)
	}
	return newKeyring(path, key)
}

// sealedSecrets counts the secrets sealed in the database, in the tables
// that exist yet (a new database has none, an old one lacks the later).
func (s *Store) sealedSecrets(ctx context.Context) (int, error) {
	total := 0
	for table, q := range map[string]string{
		"configurations": `SELECT count(*) FROM configurations WHERE bind_password LIKE 'sg1:%'`,
		"targets":        `SELECT count(*) FROM targets WHERE bind_password LIKE 'sg1:%' OR token LIKE 'sg1:%'`,
	} {
		var n int
		if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = ?`, table).Scan(&n); err != nil || n == 0 {
			if err != nil {
				return 0, err
			}
			continue
		}
		if err := s.w.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

func readKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(key) != keySize {
		return nil, fmt.Errorf("holds %d bytes, want %d (a key syncguard made)", len(key), keySize)
	}
	if err := makeOwnerOnly(path); err != nil {
		return nil, err
	}
	return key, nil
}

// createKey writes a new random key to a temporary file and links it to
// path: path appears whole or not at all, and a key another process
// created first is kept (and read).
func createKey(path string) ([]byte, error) {
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".syncguard-key-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600 with O_EXCL.
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := errors.Join(tmp.Sync(), tmp.Close()); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return readKey(path)
	} else if err != nil {
		return nil, err
	}
	return key, nil
}

// sealPlaintextSecrets encrypts the secrets stored in clear by an older
// syncguard (the step of migration 005 that SQL cannot do).
func (s *Store) sealPlaintextSecrets(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, bind_password FROM configurations
		WHERE bind_password <> '' AND bind_password NOT LIKE 'sg1:%'`)
	if err != nil {
		return err
	}
	plain := map[int64]string{}
	for rows.Next() {
		var id int64
		var p string
		if err := rows.Scan(&id, &p); err != nil {
			rows.Close()
			return err
		}
		plain[id] = p
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for id, p := range plain {
		if _, err := tx.ExecContext(ctx, `UPDATE configurations SET bind_password = ? WHERE id = ?`, s.sealed(p), id); err != nil {
			return err
		}
	}
	return nil
}
