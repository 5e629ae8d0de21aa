package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// How long a session lasts.
const (
	// SessionIdle ends a session unused this long.
	SessionIdle = 12 * time.Hour
	// SessionLifetime ends a session this long after its sign-in, however used.
	SessionLifetime = 7 * 24 * time.Hour
	// sessionsPerUser bounds one user's sessions: a sign-in beyond it ends
	// the oldest.
	sessionsPerUser = 50
	// touchEvery is how often a session's last use is written: a page view
	// writes nothing more often than that.
	touchEvery = time.Minute
)

// Session is a signed-in browser. The id its cookie carries is never
// stored: only its hash, so that reading the database gives no cookie that
// signs in.
type Session struct {
	IDHash    string // HashSessionID of the cookie's id
	UserID    int64
	CSRFToken string // the synchronizer token of the session's forms
	Address   string // where it signed in from
	UserAgent string
	CreatedAt time.Time
	SeenAt    time.Time // last use, to the minute
}

// HashSessionID is what the database keeps of a session id.
func HashSessionID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// touches holds the last uses of sessions that are being written: a page
// view never waits for the writer (a big cycle may hold it for seconds),
// and reads in this process see the use at once.
type touches struct {
	mu      sync.Mutex
	pending map[string]time.Time
	wg      sync.WaitGroup
}

// CreateSession stores a new session for the cookie id id; sess.IDHash,
// CreatedAt and SeenAt are set. Expired sessions are cleared on the way,
// and the user's oldest sessions beyond the bound end.
func (s *Store) CreateSession(ctx context.Context, id string, sess *Session) error {
	now := s.now()
	sess.IDHash, sess.CreatedAt, sess.SeenAt = HashSessionID(id), now, now
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// An hour of grace: a use may still be on its way to the database.
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE created_at < ? OR seen_at < ?`,
			ms(now.Add(-SessionLifetime-time.Hour)), ms(now.Add(-SessionIdle-time.Hour))); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_id, csrf_token, address, user_agent, created_at, seen_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, sess.IDHash, sess.UserID, sess.CSRFToken, sess.Address, sess.UserAgent, ms(now), ms(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND id_hash NOT IN (
			SELECT id_hash FROM sessions WHERE user_id = ? ORDER BY created_at DESC LIMIT ?)`, sess.UserID, sess.UserID, sessionsPerUser)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// Session returns the live session of the cookie id id, and records its
// use. A session that does not exist, was ended, or has been idle for
// SessionIdle or alive for SessionLifetime is ErrNotFound.
func (s *Store) Session(ctx context.Context, id string) (*Session, error) {
	sess := Session{IDHash: HashSessionID(id)}
	// A use still being written is looked at before the row is read: it
	// leaves the pending set only once its write has committed, so either
	// it is seen here or the row read below already holds it.
	pending := s.touches.latest(sess.IDHash, time.Time{})
	var created, seen int64
	err := s.r.QueryRowContext(ctx, `SELECT user_id, csrf_token, address, user_agent, created_at, seen_at
		FROM sessions WHERE id_hash = ?`, sess.IDHash).Scan(&sess.UserID, &sess.CSRFToken, &sess.Address, &sess.UserAgent, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: session: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: session: %w", err)
	}
	sess.CreatedAt, sess.SeenAt = fromMS(created), fromMS(seen)
	if pending.After(sess.SeenAt) {
		sess.SeenAt = pending
	}
	now := s.now()
	if now.Sub(sess.CreatedAt) >= SessionLifetime || now.Sub(sess.SeenAt) >= SessionIdle {
		return nil, fmt.Errorf("store: session: expired: %w", ErrNotFound)
	}
	if now.Sub(sess.SeenAt) >= touchEvery {
		s.touch(sess.IDHash, now)
		sess.SeenAt = now
	}
	return &sess, nil
}

// latest is the later of seen and a use of the session still being written.
func (t *touches) latest(hash string, seen time.Time) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.pending[hash]; ok && p.After(seen) {
		return p
	}
	return seen
}

// touch writes a session's last use in the background.
func (s *Store) touch(hash string, now time.Time) {
	t := &s.touches
	t.mu.Lock()
	if t.pending == nil {
		t.pending = map[string]time.Time{}
	}
	t.pending[hash] = now
	t.wg.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s.w.ExecContext(ctx, `UPDATE sessions SET seen_at = max(seen_at, ?) WHERE id_hash = ?`, ms(now), hash)
		t.mu.Lock()
		if t.pending[hash].Equal(now) {
			delete(t.pending, hash)
		}
		t.mu.Unlock()
	}()
}

// DeleteSession ends the session of the cookie id id (signing out).
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, HashSessionID(id)); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// EndSessions ends every session of a user ("Sign out everywhere") and
// records it, returning how many ended.
func (s *Store) EndSessions(ctx context.Context, userID int64, actor string) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if n, err = endSessions(ctx, tx, userID); err != nil {
			return err
		}
		return addAudit(ctx, tx, &AuditEvent{Time: s.now(), Actor: actor, Action: "Signed out everywhere",
			Details: fmt.Sprintf("%d sessions ended", n)})
	})
	if err != nil {
		return 0, fmt.Errorf("store: end sessions: %w", err)
	}
	return int(n), nil
}

func endSessions(ctx context.Context, tx *sql.Tx, userID int64) (int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// UserSessions returns the live sessions of a user, newest first.
func (s *Store) UserSessions(ctx context.Context, userID int64) ([]Session, error) {
	now := s.now()
	rows, err := s.r.QueryContext(ctx, `SELECT id_hash, csrf_token, address, user_agent, created_at, seen_at FROM sessions
		WHERE user_id = ? AND created_at > ? ORDER BY created_at DESC`, userID, ms(now.Add(-SessionLifetime)))
	if err != nil {
		return nil, fmt.Errorf("store: user sessions: %w", err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		sess := Session{UserID: userID}
		var created, seen int64
		if err := rows.Scan(&sess.IDHash, &sess.CSRFToken, &sess.Address, &sess.UserAgent, &created, &seen); err != nil {
			return nil, fmt.Errorf("store: user sessions: %w", err)
		}
		sess.CreatedAt, sess.SeenAt = fromMS(created), s.touches.latest(sess.IDHash, fromMS(seen))
		if now.Sub(sess.SeenAt) < SessionIdle {
			out = append(out, sess)
		}
	}
	return out, rows.Err()
}
