package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrUnknownSchema means a database holds migrations this binary does not
// know: it was written by a newer syncguard (or another build). Nothing is
// migrated; the database is left as it was.
var ErrUnknownSchema = errors.New("unknown database schema")

// SchemaError is ErrUnknownSchema with the numbers: the database's schema,
// the first migration this binary does not know, and the newest it knows.
type SchemaError struct {
	Schema, Unknown, Known int
}

func (e *SchemaError) Error() string {
	if e.Unknown > e.Known {
		return fmt.Sprintf("this database was written by a newer syncguard (schema %d); this binary knows up to %d: "+
			"upgrade syncguard or restore a backup", e.Schema, e.Known)
	}
	return fmt.Sprintf("this database holds migration %d, which this binary does not know (another build of syncguard "+
		"wrote it; this one knows up to %d): use that build, or restore a backup", e.Unknown, e.Known)
}

// Is makes errors.Is(err, ErrUnknownSchema) true.
func (e *SchemaError) Is(target error) bool { return target == ErrUnknownSchema }

// migration is one numbered file of migrations/.
type migration struct {
	version int
	name    string
}

// knownMigrations lists the migrations embedded in this binary, in order.
func knownMigrations() ([]migration, error) {
	entries, err := migrations.ReadDir("migrations")
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	out := make([]migration, 0, len(entries))
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("store: migration %q has no number", e.Name())
		}
		out = append(out, migration{version, e.Name()})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	return out, nil
}

// SchemaVersion is the newest schema this binary knows: the number of its
// last migration.
func SchemaVersion() int {
	known, err := knownMigrations()
	if err != nil || len(known) == 0 {
		return 0
	}
	return known[len(known)-1].version
}

// querier is what checkSchema needs of a *sql.DB, *sql.Conn or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// checkSchema returns the schema of a database (its newest applied
// migration; 0 for a new database) and refuses, with ErrUnknownSchema, one
// that holds a migration this binary does not know. It only reads.
func checkSchema(ctx context.Context, q querier) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: read the schema: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return 0, fmt.Errorf("store: read the schema: %w", err)
	}
	var applied []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return 0, fmt.Errorf("store: read the schema: %w", err)
		}
		applied = append(applied, v)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("store: read the schema: %w", err)
	}
	if len(applied) == 0 {
		return 0, nil
	}
	known, err := knownMigrations()
	if err != nil {
		return 0, err
	}
	newest := known[len(known)-1].version
	schema := applied[len(applied)-1]
	for _, v := range applied {
		if !slices.ContainsFunc(known, func(m migration) bool { return m.version == v }) {
			return schema, &SchemaError{Schema: schema, Unknown: v, Known: newest}
		}
	}
	return schema, nil
}
