package store

import (
	"context"
	"database/sql"
	"fmt"
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
	fixed      []any // values shared by every row (newFixedBatchInsert)
	full       *sql.Stmt
	args       []any
	n          int
}

func newBatchInsert(ctx context.Context, tx *sql.Tx, head, tail string, cols int) *batchInsert {
	return &batchInsert{ctx: ctx, tx: tx, head: head, tail: tail, cols: cols, args: make([]any, 0, cols*batchRows)}
}

// newFixedBatchInsert is a batchInsert for rows whose first columns hold
// the same values, fixed: each row binds only its own cols values. head
// names the fixed columns first. Binding a value costs more than SQLite
// copying it: the log entries of a big cycle share six of their ten.
func newFixedBatchInsert(ctx context.Context, tx *sql.Tx, head string, fixed []any, cols int) *batchInsert {
	b := &batchInsert{ctx: ctx, tx: tx, head: head, cols: cols, fixed: fixed, args: make([]any, 0, len(fixed)+cols*batchRows)}
	b.args = append(b.args, fixed...)
	return b
}

func (b *batchInsert) query(rows int) string {
	if len(b.fixed) == 0 {
		one := "(?" + strings.Repeat(", ?", b.cols-1) + ")"
		return b.head + " VALUES " + one + strings.Repeat(", "+one, rows-1) + " " + b.tail
	}
	// Every row names the fixed values ?1…?k, bound once; the anonymous ?
	// that follow number on. A plain VALUES list is a co-routine for
	// SQLite: SELECT … FROM (VALUES …) would be copied into a temporary
	// B-tree first, batch by batch.
	var one strings.Builder
	one.WriteString("(")
	for i := range b.fixed {
		fmt.Fprintf(&one, "?%d, ", i+1)
	}
	one.WriteString("?" + strings.Repeat(", ?", b.cols-1) + ")")
	return b.head + " VALUES " + one.String() + strings.Repeat(", "+one.String(), rows-1) + " " + b.tail
}

// reset empties the queue, keeping the fixed values.
func (b *batchInsert) reset() {
	b.args, b.n = append(b.args[:0], b.fixed...), 0
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
	b.reset()
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
	b.reset()
	return err
}
