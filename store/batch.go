package store

import (
	"context"
	"database/sql"
	"strings"
)

// batchRows is how many rows one multi-row INSERT carries: fewer statement
// executions (each a trip through database/sql and the driver) for the
// same rows, well below SQLite's limit of 32766 bound parameters.
const batchRows = 200

// batchInsert inserts rows of cols values each with multi-row INSERTs
// prepared once inside tx: head is "INSERT INTO t (a, b)", tail what follows
// the VALUES list (an ON CONFLICT clause, or ""). rows returns the values
// of row i appended to args.
type batchInsert struct {
	ctx        context.Context
	tx         *sql.Tx
	head, tail string
	cols       int
	full       *sql.Stmt
	args       []any
	n          int
}

func newBatchInsert(ctx context.Context, tx *sql.Tx, head, tail string, cols int) *batchInsert {
	return &batchInsert{ctx: ctx, tx: tx, head: head, tail: tail, cols: cols, args: make([]any, 0, cols*batchRows)}
}

func (b *batchInsert) query(rows int) string {
	one := "(?" + strings.Repeat(", ?", b.cols-1) + ")"
	return b.head + " VALUES " + one + strings.Repeat(", "+one, rows-1) + " " + b.tail
}

// add queues one row's values; a full batch is written at once.
func (b *batchInsert) add(vals ...any) error {
	b.args = append(b.args, vals...)
	b.n++
	if b.n < batchRows {
		return nil
	}
	if b.full == nil {
		stmt, err := b.tx.PrepareContext(b.ctx, b.query(batchRows))
		if err != nil {
			return err
		}
		b.full = stmt
	}
	_, err := b.full.ExecContext(b.ctx, b.args...)
	b.args, b.n = b.args[:0], 0
	return err
}

// flush writes the rows still queued and releases the statement.
func (b *batchInsert) flush() error {
	if b.full != nil {
		defer b.full.Close()
	}
	if b.n == 0 {
		return nil
	}
	_, err := b.tx.ExecContext(b.ctx, b.query(b.n), b.args...)
	b.args, b.n = b.args[:0], 0
	return err
}
