-- The guard's limits besides the threshold, reminders while sync is
-- stopped, and a history that says what became of every quarantine
-- (SPEC section 9).

-- Limits, each 0 = off: deleted users, deleted groups, member links removed
-- from groups that stay, and deletions as a percentage of the target
-- directory. A reminder mail goes out every remind_every_ms (0 = never)
-- while a quarantine is pending; reminded_at is when the last one was
-- queued.
ALTER TABLE configurations ADD COLUMN threshold_users INTEGER NOT NULL DEFAULT 0 CHECK (threshold_users >= 0);
ALTER TABLE configurations ADD COLUMN threshold_groups INTEGER NOT NULL DEFAULT 0 CHECK (threshold_groups >= 0);
ALTER TABLE configurations ADD COLUMN threshold_memberships INTEGER NOT NULL DEFAULT 0 CHECK (threshold_memberships >= 0);
ALTER TABLE configurations ADD COLUMN threshold_percent INTEGER NOT NULL DEFAULT 0
    CHECK (threshold_percent BETWEEN 0 AND 100);
ALTER TABLE configurations ADD COLUMN remind_every_ms INTEGER NOT NULL DEFAULT 86400000 CHECK (remind_every_ms >= 0);
ALTER TABLE configurations ADD COLUMN reminded_at INTEGER NOT NULL DEFAULT 0;

-- A cycle run while a quarantine was pending (held: it applied nothing)
-- is told from the quarantine itself. A quarantine's cycle keeps the
-- limits it was measured against (JSON), the member links it would have
-- removed, and what became of it: how many of its staged changes are
-- still pending (of them, how many groups' member removals) and how many
-- were allowed, and once none is pending, how
-- it ended (allowed, restarted, or released: every object came back),
-- by whom and when.
ALTER TABLE cycles ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cycles ADD COLUMN limits TEXT NOT NULL DEFAULT '';
ALTER TABLE cycles ADD COLUMN membership_removals INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cycles ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cycles ADD COLUMN pending_updates INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cycles ADD COLUMN allowed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cycles ADD COLUMN resolution TEXT NOT NULL DEFAULT ''
    CHECK (resolution IN ('', 'allowed', 'restarted', 'released'));
ALTER TABLE cycles ADD COLUMN resolved_by TEXT NOT NULL DEFAULT '';
ALTER TABLE cycles ADD COLUMN resolved_at INTEGER NOT NULL DEFAULT 0;

-- Who removed which OU from a configuration's scope, and when: the cause
-- of the deletions that follows ("scope changed") names them.
CREATE TABLE scope_removals (
    id        INTEGER PRIMARY KEY,
    config_id INTEGER NOT NULL REFERENCES configurations (id) ON DELETE CASCADE,
    ou        TEXT    NOT NULL,
    actor     TEXT    NOT NULL,
    time      INTEGER NOT NULL
);
CREATE INDEX scope_removals_config ON scope_removals (config_id, id);

-- Each staged change is stored once: its provisioning log entry is the
-- staged row (a StagedDelete, or a StagedUpdate holding the member links a
-- group would lose), with its fate on it — pending, allowed (by whom,
-- when) or discarded (why: restart sync, returned to scope). A quarantine
-- of a million objects so writes a million rows, not two million.
-- The action and status CHECKs take what the export queue and the hold of
-- SPEC sections 8 and 10 log too (StagedUpdate, Restore, Disable; Pending).
-- SQLite cannot change a CHECK in place: the table is rebuilt, keeping the
-- ids (the keyset cursor, the text index's rowids), the indexes and the
-- text index's trigger.
DROP TRIGGER provisioning_log_text_delete;
CREATE INDEX staged_migrate ON staged_deletes (config_id, cycle_id, anchor);
-- The CHECKs are chains of OR rather than IN lists: SQLite builds an IN
-- list's lookup table again for every row it checks, which made writing a
-- million entries cost twice what it does.
CREATE TABLE provisioning_log_new (
    id          INTEGER PRIMARY KEY,
    config_id   INTEGER NOT NULL REFERENCES configurations (id) ON DELETE CASCADE,
    cycle_id    INTEGER NOT NULL,
    time        INTEGER NOT NULL,
    action      TEXT    NOT NULL CHECK (action = 'Create' OR action = 'Update' OR action = 'Delete'
                                        OR action = 'StagedDelete' OR action = 'StagedUpdate'
                                        OR action = 'Restore' OR action = 'Disable'),
    status      TEXT    NOT NULL CHECK (status = 'Success' OR status = 'Failure' OR status = 'Skipped'
                                        OR status = 'Staged' OR status = 'Pending'),
    object_type TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    dn          TEXT    NOT NULL,
    anchor      TEXT    NOT NULL,
    details     TEXT    NOT NULL DEFAULT '',
    cause       TEXT    NOT NULL DEFAULT ''
                CHECK (cause = '' OR cause = 'deleted at the source' OR cause = 'moved out of scope'
                       OR cause = 'scope changed' OR cause = 'scope OU gone' OR cause = 'no longer a user or group'),
    -- 1 for the staged entries (StagedDelete, StagedUpdate), for ever: the
    -- partial indexes of both kinds are keyed on it, so that deciding a
    -- staged entry's fate touches no index.
    staged      INTEGER NOT NULL DEFAULT 0,
    -- Staged entries only: the OU the object was in, its fate, who decided
    -- it and when, and why it was discarded.
    ou          TEXT    NOT NULL DEFAULT '',
    fate        TEXT    NOT NULL DEFAULT ''
                CHECK (fate = '' OR fate = 'pending' OR fate = 'allowed' OR fate = 'discarded'),
    decided_by  TEXT    NOT NULL DEFAULT '',
    decided_at  INTEGER NOT NULL DEFAULT 0,
    fate_reason TEXT    NOT NULL DEFAULT '',
    -- StagedUpdate only: the anchors of the members the group would lose (JSON).
    members     TEXT    NOT NULL DEFAULT ''
);
INSERT INTO provisioning_log_new (id, config_id, cycle_id, time, action, status, object_type, name, dn, anchor, details,
                                  cause, staged, ou, fate, decided_by, decided_at, fate_reason)
    SELECT l.id, l.config_id, l.cycle_id, l.time, l.action, l.status, l.object_type, l.name, l.dn, l.anchor, l.details,
           l.cause, l.action = 'StagedDelete', coalesce(s.ou, ''),
           CASE WHEN l.action <> 'StagedDelete' THEN ''
                WHEN s.state = 'applied' THEN 'allowed'
                ELSE coalesce(s.state, 'discarded') END,
           coalesce(s.decided_by, ''), coalesce(s.decided_at, 0), coalesce(s.reason, '')
    FROM provisioning_log l
    LEFT JOIN staged_deletes s ON l.action = 'StagedDelete' AND s.config_id = l.config_id AND s.cycle_id = l.cycle_id
                               AND s.anchor = l.anchor;
-- Every pending staged delete has its entry: the log keeps the entries of
-- the pending quarantine (PruneLogs).
-- What became of each quarantine, from its staged deletes.
UPDATE cycles SET
    pending = (SELECT count(*) FROM staged_deletes s WHERE s.cycle_id = cycles.id AND s.state = 'pending'),
    allowed = (SELECT count(*) FROM staged_deletes s WHERE s.cycle_id = cycles.id AND s.state = 'applied')
WHERE outcome = 'Quarantined';
UPDATE cycles SET held = 1 WHERE outcome = 'Quarantined' AND staged_deletes = 0;
UPDATE cycles SET
    resolution = CASE WHEN allowed > 0 THEN 'allowed'
                      WHEN EXISTS (SELECT 1 FROM staged_deletes s WHERE s.cycle_id = cycles.id AND s.reason = 'restart sync')
                      THEN 'restarted' ELSE 'released' END,
    resolved_by = coalesce((SELECT decided_by FROM staged_deletes s WHERE s.cycle_id = cycles.id AND s.state <> 'pending'
                            ORDER BY s.decided_at DESC LIMIT 1), ''),
    resolved_at = coalesce((SELECT max(decided_at) FROM staged_deletes s WHERE s.cycle_id = cycles.id), 0)
WHERE outcome = 'Quarantined' AND held = 0 AND pending = 0;

DROP TABLE staged_deletes;
DROP TABLE provisioning_log;
ALTER TABLE provisioning_log_new RENAME TO provisioning_log;
-- The log's entries are of two kinds, each with its own indexes: the
-- entries of what was done and the staged ones. A
-- quarantine of a million objects so updates three small indexes per
-- staged entry, not six; the queries of the log read both kinds, merged
-- newest first (Store.Logs).
CREATE INDEX log_config        ON provisioning_log (config_id, id) WHERE staged = 0;
CREATE INDEX log_config_action ON provisioning_log (config_id, action, id) WHERE staged = 0;
CREATE INDEX log_config_status ON provisioning_log (config_id, status, id) WHERE staged = 0;
CREATE INDEX log_config_type   ON provisioning_log (config_id, object_type, id) WHERE staged = 0;
CREATE INDEX log_config_cycle  ON provisioning_log (config_id, cycle_id, id) WHERE staged = 0;
CREATE INDEX log_config_time   ON provisioning_log (config_id, time, id) WHERE staged = 0;
-- The staged entries by kind: a filter by type or action walks the
-- entries of that kind alone (a quarantine of users holds no group),
-- and the kinds merge newest first for the log without a filter.
CREATE INDEX log_staged        ON provisioning_log (config_id, action, object_type, id) WHERE staged = 1;
CREATE INDEX log_staged_cycle  ON provisioning_log (config_id, cycle_id, id) WHERE staged = 1;
CREATE INDEX log_staged_time   ON provisioning_log (config_id, time, id) WHERE staged = 1;
CREATE TRIGGER provisioning_log_text_delete AFTER DELETE ON provisioning_log
WHEN old.id <= (SELECT indexed_id FROM log_text_state) BEGIN
    INSERT INTO provisioning_log_text (provisioning_log_text, rowid, name, dn) VALUES ('delete', old.id, old.name, old.dn);
END;
