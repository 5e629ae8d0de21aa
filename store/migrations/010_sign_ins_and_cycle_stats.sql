-- When each user last signed in, for the Users page and `user list`:
-- taken from the audit log for the sign-ins before this migration (those
-- after the user was created, so that a name used again does not inherit
-- them).
ALTER TABLE users ADD COLUMN last_sign_in_at INTEGER NOT NULL DEFAULT 0;
UPDATE users SET last_sign_in_at = coalesce((SELECT max(a.time) FROM audit_events a
    WHERE a.action = 'Signed in' AND a.actor = users.name AND a.time >= users.created_at), 0);

-- How many cycles each configuration ran, by outcome and by duration
-- bucket, with their total duration: the cycle counter and duration
-- histogram of /metrics, kept by the transaction that records each cycle
-- (Store.ApplyCycle) so that a scrape reads a few rows, not every cycle
-- ever run. bucket_ms is the upper bound of the duration bucket the cycles
-- fell in (store.CycleDurationBuckets), -1 above the last one. The rows of
-- the cycles before this migration are counted by its Go step.
CREATE TABLE cycle_stats (
    config_id INTEGER NOT NULL REFERENCES configurations (id) ON DELETE CASCADE,
    outcome   TEXT    NOT NULL,
    bucket_ms INTEGER NOT NULL,
    cycles    INTEGER NOT NULL,
    total_ms  INTEGER NOT NULL,
    PRIMARY KEY (config_id, outcome, bucket_ms)
) WITHOUT ROWID;
