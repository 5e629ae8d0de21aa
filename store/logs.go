package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Provisioning log actions and statuses. An exported change is Pending
// until the target answers: Success, or Failure with the target's words.
//
// Pending is not written in the log: an exported change is written as the
// Success it becomes, and reads as Pending while its export waits in the
// queue (a refusal writes the Failure). The cycle writes its entries as it
// does without a target, and the exporter's answer costs no log write.
const (
	ActionCreate       = "Create"
	ActionUpdate       = "Update"
	ActionDelete       = "Delete"
	ActionStagedDelete = "StagedDelete"
	// ActionStagedUpdate holds the member links a group would lose, in a
	// quarantine with a membership limit.
	ActionStagedUpdate = "StagedUpdate"
	ActionRestore      = "Restore"
	ActionDisable      = "Disable"

	LogSuccess = "Success"
	LogFailure = "Failure"
	LogSkipped = "Skipped"
	LogStaged  = "Staged"
	LogPending = "Pending"
)

// LogActions and LogStatuses are the values the log's filters offer.
var (
	LogActions = []string{ActionCreate, ActionUpdate, ActionDelete, ActionStagedDelete, ActionStagedUpdate, ActionDisable,
		ActionRestore}
	LogStatuses = []string{LogSuccess, LogFailure, LogSkipped, LogStaged, LogPending}
)

// LogEntry is one provisioning log entry: one object, one action.
type LogEntry struct {
	ID       int64
	ConfigID int64
	CycleID  int64
	Time     time.Time
	Action   string
	Status   string
	Type     string
	Name     string
	DN       string
	Anchor   string
	Details  string
	// Cause is why a StagedDelete entry (and the Delete entry that
	// applied it) deletes its object; "" for every other entry.
	Cause Cause
	// A staged entry's fate (StagedPending, StagedApplied, StagedDiscarded;
	// "" for other entries), who decided it, when and why; OU is where
	// its object was. Details then ends with the fate in words.
	Fate       string
	DecidedBy  string
	DecidedAt  time.Time
	FateReason string
	OU         string
}

// fateWords ends a staged entry's details with its fate: who decided
// it, when and why.
func (e *LogEntry) fateWords() {
	if e.Action == ActionStagedDelete && !strings.HasPrefix(e.Details, "no longer in scope") {
		d := "no longer in scope: " + string(e.Cause)
		if e.Details != "" {
			d += ": " + e.Details
		}
		e.Details = d
	}
	at := e.DecidedAt.UTC().Format(time.RFC3339)
	switch e.Fate {
	case StagedPending:
		e.Details += "; pending: waits for Allow deletes or Restart sync"
	case StagedApplied:
		e.Details += fmt.Sprintf("; allowed by %s at %s", e.DecidedBy, at)
	case StagedDiscarded:
		e.Details += fmt.Sprintf("; discarded (%s) by %s at %s", e.FateReason, e.DecidedBy, at)
	}
}

// LogQuery selects provisioning log entries of one configuration, newest first.
// Zero fields do not filter. Before is the keyset cursor: only entries with a
// smaller ID are returned.
type LogQuery struct {
	ConfigID int64
	Action   string
	Status   string
	Type     string
	Cycle    int64
	From, To time.Time // From inclusive, To exclusive
	Text     string    // substring of the name or DN, case-insensitive
	Before   int64
	Limit    int
}

func insertLog(ctx context.Context, tx *sql.Tx, configID, cycleID int64, entries []LogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	b := newBatchInsert(ctx, tx, `INSERT INTO provisioning_log (config_id, cycle_id, time, action, status,
		object_type, name, dn, anchor, details, cause)`, "", 11)
	for i := range entries {
		e := &entries[i]
		e.ConfigID, e.CycleID = configID, cycleID
		if err := b.add(configID, cycleID, ms(e.Time), e.Action, e.Status, e.Type, e.Name, e.DN, e.Anchor, e.Details,
			string(e.Cause)); err != nil {
			return err
		}
	}
	return b.flush()
}

// newLogBatch inserts log entries that differ from l only in their object
// (type, name, DN, anchor: what add takes).
func newLogBatch(ctx context.Context, tx *sql.Tx, configID, cycleID int64, l *LogEntry) *batchInsert {
	return newFixedBatchInsert(ctx, tx, `INSERT INTO provisioning_log (config_id, cycle_id, time, action, status, details,
		cause, object_type, name, dn, anchor)`, []any{configID, cycleID, ms(l.Time), l.Action, l.Status, l.Details, string(l.Cause)}, 4)
}

// ErrSearchText means a log search text that cannot be searched for.
var ErrSearchText = errors.New("the search text holds a control character or is not UTF-8")

// CheckSearchText says whether text can be searched for in the log: valid
// UTF-8 without control characters. The text reaches SQLite only as bound
// parameters, but inside two small languages SQLite parses: a LIKE pattern
// (escapeLike) and a full-text query of quoted trigrams (trigramQuery).
// SQLite reads both as C strings, to the first NUL: a NUL cut the
// full-text query short ("unterminated string") and turned the LIKE
// pattern into one that matches everything. Names and DNs are searched
// for as printable text; anything else is refused with ErrSearchText.
func CheckSearchText(text string) error {
	if !utf8.ValidString(text) {
		return ErrSearchText
	}
	for _, r := range text {
		if unicode.IsControl(r) {
			return ErrSearchText
		}
	}
	return nil
}

// Logs returns the entries q selects, newest first. A Text that
// CheckSearchText refuses is ErrSearchText.
func (s *Store) Logs(ctx context.Context, q LogQuery) ([]LogEntry, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	if err := CheckSearchText(q.Text); err != nil {
		return nil, fmt.Errorf("store: logs: %w", err)
	}
	out, err := s.logsOf(ctx, q)
	if err != nil {
		return nil, err
	}
	return out, s.pendingStatus(ctx, out)
}

// logsOf returns the entries q selects as they are written.
func (s *Store) logsOf(ctx context.Context, q LogQuery) ([]LogEntry, error) {
	if utf8.RuneCountInString(q.Text) < 3 {
		return s.logs(ctx, q, logScan, 0)
	}
	// A text search: the entries above the text index's mark are scanned,
	// those below are found through it. They are newer, so they come first.
	var mark int64
	if err := s.r.QueryRowContext(ctx, `SELECT indexed_id FROM log_text_state`).Scan(&mark); err != nil {
		return nil, fmt.Errorf("store: logs: %w", err)
	}
	out, err := s.logs(ctx, q, logScan, mark)
	if err != nil || len(out) == q.Limit || mark == 0 {
		return out, err
	}
	rest := q
	rest.Limit = q.Limit - len(out)
	if rest.Before == 0 || rest.Before > mark+1 {
		rest.Before = mark + 1
	}
	more, err := s.logs(ctx, rest, logIndexed, 0)
	return append(out, more...), err
}

// pendingStatus marks Pending the entries whose export waits in the queue.
func (s *Store) pendingStatus(ctx context.Context, entries []LogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	var queued bool
	if err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM exports WHERE config_id = ? AND state = 'pending')`,
		entries[0].ConfigID).Scan(&queued); err != nil || !queued {
		return err
	}
	at := make(map[int64]int, len(entries))
	ids := make([]int64, len(entries))
	for i := range entries {
		at[entries[i].ID], ids[i] = i, entries[i].ID
	}
	return inChunks(ids, func(part []int64) error {
		rows, err := s.r.QueryContext(ctx, `SELECT log_id FROM exports WHERE state = 'pending' AND log_id IN (?`+
			strings.Repeat(",?", len(part)-1)+`)`, int64Args(part)...)
		if err != nil {
			return fmt.Errorf("store: logs: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return fmt.Errorf("store: logs: %w", err)
			}
			entries[at[id]].Status = LogPending
		}
		return rows.Err()
	})
}

// How logs finds a text: by scanning the entries above an id, or through
// the text index.
const (
	logScan = iota
	logIndexed
)

func (s *Store) logs(ctx context.Context, q LogQuery, how int, above int64) ([]LogEntry, error) {
	where, args := logConditions(q, above)
	return s.logsOn(ctx, q, how, where, args)
}

// logConditions are the SQL conditions and arguments of q, with the ids
// above above only (0: all).
func logConditions(q LogQuery, above int64) ([]string, []any) {
	where := []string{"config_id = ?"}
	args := []any{q.ConfigID}
	if q.Action != "" {
		where, args = append(where, "action = ?"), append(args, q.Action)
	}
	switch q.Status {
	case "":
	case LogPending:
		where, args = append(where, "id IN (SELECT log_id FROM exports WHERE config_id = ? AND state = 'pending')"), append(args, q.ConfigID)
	case LogSuccess:
		where = append(where, "status = ?", "id NOT IN (SELECT log_id FROM exports WHERE config_id = ? AND state = 'pending')")
		args = append(args, q.Status, q.ConfigID)
	default:
		where, args = append(where, "status = ?"), append(args, q.Status)
	}
	if q.Type != "" {
		where, args = append(where, "object_type = ?"), append(args, q.Type)
	}
	if q.Cycle != 0 {
		where, args = append(where, "cycle_id = ?"), append(args, q.Cycle)
	}
	if !q.From.IsZero() {
		where, args = append(where, "time >= ?"), append(args, ms(q.From))
	}
	if !q.To.IsZero() {
		where, args = append(where, "time < ?"), append(args, ms(q.To))
	}
	if q.Text != "" {
		like := "%" + escapeLike(strings.ToLower(q.Text)) + "%"
		where, args = append(where, `(lower(name) LIKE ? ESCAPE '\' OR lower(dn) LIKE ? ESCAPE '\')`), append(args, like, like)
	}
	if q.Before > 0 {
		where, args = append(where, "id < ?"), append(args, q.Before)
	}
	if above > 0 {
		where, args = append(where, "id > ?"), append(args, above)
	}
	return where, args
}

// logsOn continues logs with the conditions of q.
func (s *Store) logsOn(ctx context.Context, q LogQuery, how int, where []string, args []any) ([]LogEntry, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	if how == logIndexed {
		// Walk the index's matches newest first; each is checked against
		// the filters (and LIKE) until the page is full.
		args = append([]any{trigramQuery(q.Text), q.Before}, args...)
		rows, err := s.r.QueryContext(ctx, `SELECT `+strings.Join(prefix("l.", strings.Split(logColumns, ", ")), ", ")+`
			FROM provisioning_log_text f JOIN provisioning_log l ON l.id = f.rowid
			WHERE f.provisioning_log_text MATCH ? AND f.rowid < ? AND `+strings.Join(prefix("l.", where), " AND ")+`
			ORDER BY f.rowid DESC LIMIT ?`, append(args, limit)...)
		return scanLogs(rows, err, limit)
	}
	arms := logArms(q)
	if len(arms) == 0 {
		return nil, nil
	}
	cond := strings.Join(where, " AND ")
	var parts []string
	var all []any
	if !q.From.IsZero() && !q.To.IsZero() && q.Action == "" && q.Status == "" && q.Type == "" && q.Cycle == 0 && q.Text == "" {
		// A date range alone: the newest entries of the range by the time
		// indexes (covering: no row read) rather than by walking every
		// newer entry of the configuration.
		for _, a := range arms {
			parts = append(parts, `SELECT id FROM (SELECT id FROM provisioning_log INDEXED BY `+a.timeIndex+` WHERE `+cond+
				` AND `+a.cond+` ORDER BY id DESC LIMIT ?)`)
			all = append(append(all, args...), limit)
		}
		rows, err := s.r.QueryContext(ctx, `SELECT `+logColumns+` FROM provisioning_log WHERE id IN (`+
			strings.Join(parts, " UNION ALL ")+`) ORDER BY id DESC LIMIT ?`, append(all, limit)...)
		return scanLogs(rows, err, limit)
	}
	for _, a := range arms {
		for _, kind := range a.kinds(q) {
			parts = append(parts, `SELECT `+logColumns+` FROM provisioning_log WHERE `+cond+` AND `+kind)
			all = append(all, args...)
		}
	}
	if len(parts) == 0 {
		return nil, nil
	}
	// Two kinds: SQLite merges them, each walked newest first on its own
	// indexes, and stops at the limit.
	rows, err := s.r.QueryContext(ctx, strings.Join(parts, " UNION ALL ")+` ORDER BY id DESC LIMIT ?`, append(all, limit)...)
	return scanLogs(rows, err, limit)
}

// logArm is one of the two kinds of log entries, each with its indexes:
// those of what was done (staged = 0) and the staged ones (staged = 1).
type logArm struct {
	cond      string // the WHERE term of its partial indexes
	timeIndex string // its index by time
	byKind    bool   // its entries are indexed by action and object type first
}

var (
	plainEntries  = logArm{cond: "staged = 0", timeIndex: "log_config_time"}
	stagedEntries = logArm{cond: "staged = 1", timeIndex: "log_staged_time", byKind: true}
)

// kinds returns the WHERE terms an arm is read by for q. The staged
// entries are indexed by kind (action and object type, log_staged): read
// kind by kind, each newest first, a filter by type or action walks only
// the entries of its kind; one cycle's are read by their cycle's index.
func (a logArm) kinds(q LogQuery) []string {
	if !a.byKind || q.Cycle != 0 {
		return []string{a.cond}
	}
	var out []string
	for _, action := range []string{ActionStagedDelete, ActionStagedUpdate} {
		for _, typ := range []string{"user", "group"} {
			if (q.Action == "" || q.Action == action) && (q.Type == "" || q.Type == typ) {
				out = append(out, fmt.Sprintf("%s AND action = '%s' AND object_type = '%s'", a.cond, action, typ))
			}
		}
	}
	return out
}

// logArms returns the kinds of entries a query may select: a staged
// action or the Staged status are staged entries alone; another action or
// status, plain ones alone.
func logArms(q LogQuery) []logArm {
	stagedAction := q.Action == ActionStagedDelete || q.Action == ActionStagedUpdate
	var out []logArm
	if !stagedAction && q.Status != LogStaged {
		out = append(out, plainEntries)
	}
	if (q.Action == "" || stagedAction) && (q.Status == "" || q.Status == LogStaged) {
		out = append(out, stagedEntries)
	}
	return out
}

// trigramQuery is the full-text query for entries holding every trigram of
// text (the index has no positions: LIKE then checks the substring).
func trigramQuery(text string) string {
	r := []rune(strings.ToLower(text))
	var terms []string
	for i := 0; i+3 <= len(r); i++ {
		t := `"` + strings.ReplaceAll(string(r[i:i+3]), `"`, `""`) + `"`
		if !slices.Contains(terms, t) {
			terms = append(terms, t)
		}
	}
	return strings.Join(terms, " AND ")
}

// prefix qualifies the column names that start each condition.
func prefix(p string, conds []string) []string {
	out := make([]string, len(conds))
	for i, c := range conds {
		c = strings.ReplaceAll(c, "lower(name)", "lower("+p+"name)")
		c = strings.ReplaceAll(c, "lower(dn)", "lower("+p+"dn)")
		if !strings.HasPrefix(c, "(") {
			c = p + c
		}
		out[i] = c
	}
	return out
}

func scanLogs(rows *sql.Rows, err error, limit int) ([]LogEntry, error) {
	if err != nil {
		return nil, fmt.Errorf("store: logs: %w", err)
	}
	defer rows.Close()
	out := make([]LogEntry, 0, limit)
	for rows.Next() {
		e, err := scanLog(rows)
		if err != nil {
			return nil, fmt.Errorf("store: logs: %w", err)
		}
		out = append(out, *e)
	}
	return out, rows.Err()
}

// IndexLogText adds up to max provisioning log entries not yet in the text
// index to it, in one transaction, and returns how many it added (0: the
// index is complete). `serve` calls it in the background: kept by triggers
// in the cycle's transaction, the index would nearly double the cost of
// writing a big cycle's log; until it catches up, Logs scans the entries it
// lacks.
func (s *Store) IndexLogText(ctx context.Context, max int) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var mark, top int64
		if err := tx.QueryRowContext(ctx, `SELECT indexed_id FROM log_text_state`).Scan(&mark); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM (SELECT id FROM provisioning_log
			WHERE id > ? ORDER BY id LIMIT ?)`, mark, max).Scan(&top); err != nil {
			return err
		}
		if top <= mark {
			return nil
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO provisioning_log_text (rowid, name, dn)
			SELECT id, name, dn FROM provisioning_log WHERE id > ? AND id <= ?`, mark, top)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE log_text_state SET indexed_id = ?`, top)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: index log text: %w", err)
	}
	return int(n), nil
}

// LogEntry returns one entry of a configuration's provisioning log, or ErrNotFound.
func (s *Store) LogEntry(ctx context.Context, configID, id int64) (*LogEntry, error) {
	e, err := scanLog(s.r.QueryRowContext(ctx, `SELECT `+logColumns+`
		FROM provisioning_log WHERE config_id = ? AND id = ?`, configID, id))
	if err != nil {
		return nil, fmt.Errorf("store: log entry %d: %w", id, err)
	}
	entries := []LogEntry{*e}
	if err := s.pendingStatus(ctx, entries); err != nil {
		return nil, err
	}
	return &entries[0], nil
}

// logColumns are the columns scanLog reads, in its order.
const logColumns = `id, config_id, cycle_id, time, action, status, object_type, name, dn, anchor, details, cause, ou, ` +
	`fate, decided_by, decided_at, fate_reason`

func scanLog(row scanner) (*LogEntry, error) {
	var e LogEntry
	var t, decided int64
	if err := row.Scan(&e.ID, &e.ConfigID, &e.CycleID, &t, &e.Action, &e.Status, &e.Type, &e.Name, &e.DN, &e.Anchor, &e.Details,
		&e.Cause, &e.OU, &e.Fate, &e.DecidedBy, &decided, &e.FateReason); err != nil {
		if err == sql.ErrNoRows {
			return nil, ErrNotFound
		}
		return nil, err
	}
	e.Time, e.DecidedAt = fromMS(t), fromMS(decided)
	if e.Fate != "" {
		e.fateWords()
	}
	return &e, nil
}

// PruneLogs deletes provisioning log entries older than before, except those
// of a cycle whose staged deletes are still pending and those that carry
// an export still queued (they wait for the target's answer). It returns
// how many went.
func (s *Store) PruneLogs(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	for _, a := range []logArm{plainEntries, stagedEntries} {
		res, err := s.w.ExecContext(ctx, `DELETE FROM provisioning_log WHERE time < ? AND `+a.cond+`
			AND cycle_id NOT IN (SELECT quarantine_cycle_id FROM configurations WHERE quarantine_cycle_id <> 0)
			AND id NOT IN (SELECT log_id FROM exports)`, ms(before))
		if err != nil {
			return n, fmt.Errorf("store: prune logs: %w", err)
		}
		m, err := res.RowsAffected()
		if err != nil {
			return n, fmt.Errorf("store: prune logs: %w", err)
		}
		n += m
	}
	return n, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// The actions and statuses the provisioning log takes since migration 007.
const (
	logActionCheck = `CHECK (action IN ('Create', 'Update', 'Delete', 'StagedDelete', 'StagedUpdate', 'Restore', 'Disable'))`
	logStatusCheck = `CHECK (status IN ('Success', 'Failure', 'Skipped', 'Staged', 'Pending'))`
)

var (
	actionCheck = regexp.MustCompile(`CHECK \(action IN \([^)]*\)\)`)
	statusCheck = regexp.MustCompile(`CHECK \(status IN \([^)]*\)\)`)
)

// widenLogChecks is the step of migration 007: it rebuilds the
// provisioning log with the wider CHECK constraints of its action and
// status. SQLite cannot change a constraint in place; the table is made
// again from its own definition, whatever columns later migrations added,
// and its rows (ids kept), indexes and triggers copied over.
func widenLogChecks(ctx context.Context, tx *sql.Tx) error {
	var def string
	if err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'provisioning_log'`).
		Scan(&def); err != nil {
		return err
	}
	if !actionCheck.MatchString(def) || !statusCheck.MatchString(def) {
		return fmt.Errorf("provisioning_log: unexpected definition %q", def)
	}
	def = statusCheck.ReplaceAllLiteralString(actionCheck.ReplaceAllLiteralString(def, logActionCheck), logStatusCheck)
	def = strings.Replace(def, "provisioning_log", "provisioning_log_widened", 1)
	// The indexes and triggers go with the old table; they are made again.
	keep, err := queryRows(ctx, tx, "provisioning log schema", func(row scanner) (string, error) {
		var q string
		return q, row.Scan(&q)
	}, `SELECT sql FROM sqlite_master WHERE tbl_name = 'provisioning_log' AND type IN ('index', 'trigger')
		AND sql IS NOT NULL ORDER BY type, name`)
	if err != nil {
		return err
	}
	steps := []string{def, `INSERT INTO provisioning_log_widened SELECT * FROM provisioning_log`,
		`DROP TABLE provisioning_log`, `ALTER TABLE provisioning_log_widened RENAME TO provisioning_log`}
	for _, q := range append(steps, keep...) {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("widen the provisioning log: %w", err)
		}
	}
	return nil
}
