-- The first schema of syncguard: every entity of the product specification.
-- Times are Unix milliseconds (UTC).

CREATE TABLE agents (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    host           TEXT    NOT NULL,
    version        TEXT    NOT NULL,
    started_at     INTEGER NOT NULL,
    last_heartbeat INTEGER NOT NULL
);

CREATE TABLE configurations (
    id                  INTEGER PRIMARY KEY,
    name                TEXT    NOT NULL UNIQUE,
    source              TEXT    NOT NULL,
    base_dn             TEXT    NOT NULL DEFAULT '',
    bind_dn             TEXT    NOT NULL DEFAULT '',
    bind_password       TEXT    NOT NULL DEFAULT '',
    start_tls           INTEGER NOT NULL DEFAULT 0,
    ca_file             TEXT    NOT NULL DEFAULT '',
    scope               TEXT    NOT NULL DEFAULT '[]',
    interval_ms         INTEGER NOT NULL DEFAULT 120000,
    email               TEXT    NOT NULL DEFAULT '',
    prevent             INTEGER NOT NULL DEFAULT 1,
    threshold           INTEGER NOT NULL DEFAULT 500 CHECK (threshold > 0),
    status              TEXT    NOT NULL DEFAULT 'not_run'
                        CHECK (status IN ('healthy', 'quarantined', 'error', 'not_run')),
    status_error        TEXT    NOT NULL DEFAULT '',
    quarantine_cycle_id INTEGER NOT NULL DEFAULT 0,
    generation          INTEGER NOT NULL DEFAULT 0,
    agent_id            INTEGER REFERENCES agents (id) ON DELETE SET NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

-- The target directory: the synced copy of each in-scope object.
CREATE TABLE target_objects (
    config_id  INTEGER NOT NULL REFERENCES configurations (id) ON DELETE CASCADE,
    anchor     TEXT    NOT NULL,
    type       TEXT    NOT NULL CHECK (type IN ('user', 'group')),
    dn         TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    attributes TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    PRIMARY KEY (config_id, anchor)
) WITHOUT ROWID;

CREATE TABLE cycles (
    id             INTEGER PRIMARY KEY,
    config_id      INTEGER NOT NULL REFERENCES configurations (id) ON DELETE CASCADE,
    trigger        TEXT    NOT NULL,
    outcome        TEXT    NOT NULL CHECK (outcome IN ('Succeeded', 'Quarantined', 'Failed')),
    read_count     INTEGER NOT NULL DEFAULT 0,
    creates        INTEGER NOT NULL DEFAULT 0,
    updates        INTEGER NOT NULL DEFAULT 0,
    deletes        INTEGER NOT NULL DEFAULT 0,
    staged_deletes INTEGER NOT NULL DEFAULT 0,
    failures       INTEGER NOT NULL DEFAULT 0,
    discarded      INTEGER NOT NULL DEFAULT 0,
    threshold      INTEGER NOT NULL DEFAULT 0,
    error          TEXT    NOT NULL DEFAULT '',
    started_at     INTEGER NOT NULL,
    finished_at    INTEGER NOT NULL
);
CREATE INDEX cycles_config ON cycles (config_id, id DESC);

CREATE TABLE provisioning_log (
    id          INTEGER PRIMARY KEY,
    config_id   INTEGER NOT NULL REFERENCES configurations (id) ON DELETE CASCADE,
    cycle_id    INTEGER NOT NULL,
    time        INTEGER NOT NULL,
    action      TEXT    NOT NULL CHECK (action IN ('Create', 'Update', 'Delete', 'StagedDelete')),
    status      TEXT    NOT NULL CHECK (status IN ('Success', 'Failure', 'Skipped', 'Staged')),
    object_type TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    dn          TEXT    NOT NULL,
    anchor      TEXT    NOT NULL,
    details     TEXT    NOT NULL DEFAULT ''
);
-- The log is read newest first by configuration, optionally narrowed by one
-- filter; each index ends in id so keyset pagination (id < ?) stays an index walk.
CREATE INDEX log_config        ON provisioning_log (config_id, id);
CREATE INDEX log_config_action ON provisioning_log (config_id, action, id);
CREATE INDEX log_config_status ON provisioning_log (config_id, status, id);
CREATE INDEX log_config_type   ON provisioning_log (config_id, object_type, id);
CREATE INDEX log_config_cycle  ON provisioning_log (config_id, cycle_id, id);
CREATE INDEX log_config_time   ON provisioning_log (config_id, time, id);

CREATE TABLE staged_deletes (
    id          INTEGER PRIMARY KEY,
    config_id   INTEGER NOT NULL REFERENCES configurations (id) ON DELETE CASCADE,
    cycle_id    INTEGER NOT NULL,
    anchor      TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    dn          TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    ou          TEXT    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'applied', 'discarded')),
    reason      TEXT    NOT NULL DEFAULT '',
    decided_by  TEXT    NOT NULL DEFAULT '',
    decided_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX staged_config_state ON staged_deletes (config_id, state, cycle_id);
CREATE INDEX staged_cycle ON staged_deletes (cycle_id);

-- The notification outbox: filled in the cycle's transaction, drained by a sender.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    config_id       INTEGER REFERENCES configurations (id) ON DELETE SET NULL,
    cycle_id        INTEGER NOT NULL DEFAULT 0,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    sent_at         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY,
    time        INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    config_id   INTEGER,
    config_name TEXT    NOT NULL DEFAULT '',
    details     TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_at    INTEGER NOT NULL
);

-- At most one cycle per configuration at a time, across processes: a lease
-- renewed by its holder and taken over once it has expired.
CREATE TABLE cycle_locks (
    config_id    INTEGER PRIMARY KEY REFERENCES configurations (id) ON DELETE CASCADE,
    holder       TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    host         TEXT    NOT NULL,
    acquired_at  INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    phase        TEXT    NOT NULL DEFAULT 'reading',
    read_count   INTEGER NOT NULL DEFAULT 0,
    planned      INTEGER NOT NULL DEFAULT 0,
    applied      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
