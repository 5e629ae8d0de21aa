-- Targets (SPEC section 8): the real directory a configuration provisions,
-- the exports waiting to be sent there, and what syncguard knows of the
-- objects it wrote there.

-- The provisioning log takes the actions and statuses of exports and of the
-- hold before deletions become final: SQLite cannot change a CHECK
-- constraint in place, so the step of this migration written in Go
-- (widenLogChecks, store/logs.go) rebuilds the table from its own
-- definition, keeping every column, id, index and trigger.

-- A configuration's target; no row is the target "none" (the copy only).
-- The secrets are sealed (store/secrets.go). epoch moves whenever the
-- destination changes (URL, base DN): links, exports and answers of an
-- older epoch are another directory's and count for nothing.
CREATE TABLE targets (
    config_id         INTEGER PRIMARY KEY REFERENCES configurations (id) ON DELETE CASCADE,
    url               TEXT    NOT NULL,
    base_dn           TEXT    NOT NULL DEFAULT '',
    bind_dn           TEXT    NOT NULL DEFAULT '',
    bind_password     TEXT    NOT NULL DEFAULT '',
    start_tls         INTEGER NOT NULL DEFAULT 0,
    ca_file           TEXT    NOT NULL DEFAULT '',
    token             TEXT    NOT NULL DEFAULT '',
    epoch             INTEGER NOT NULL DEFAULT 1,
    -- What the target held when syncguard first looked, before its first
    -- export: an empty target takes creates at once, a populated one is
    -- matched first.
    contents          TEXT    NOT NULL DEFAULT 'unknown' CHECK (contents IN ('unknown', 'empty', 'populated')),
    -- The whole target directory copy is to be exported by the next cycle
    -- the guard lets through (the target was added or changed).
    full_export       INTEGER NOT NULL DEFAULT 0,
    -- Transient failures: since when, the last one's words, how many in a
    -- row (the backoff), and when to try again; retry_asked: that wait is
    -- the target's own (Retry-After), which even a command run by hand obeys.
    unreachable_since INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT    NOT NULL DEFAULT '',
    failures          INTEGER NOT NULL DEFAULT 0,
    retry_at          INTEGER NOT NULL DEFAULT 0,
    retry_asked       INTEGER NOT NULL DEFAULT 0,
    last_export_at    INTEGER NOT NULL DEFAULT 0,
    -- One exporter at a time per configuration, across processes: a lease
    -- renewed by its holder, taken over when it expires or its process is
    -- gone.
    lease_holder      TEXT    NOT NULL DEFAULT '',
    lease_pid         INTEGER NOT NULL DEFAULT 0,
    lease_host        TEXT    NOT NULL DEFAULT '',
    lease_until       INTEGER NOT NULL DEFAULT 0,
    updated_at        INTEGER NOT NULL
);

-- The export queue, filled in the transaction of the cycle (or Allow
-- deletes) that decided the change, drained by the exporter. An export is
-- keyed by the provisioning log entry that carries its result. Puts send
-- the object's state from the target directory copy at send time; deletes
-- what the log entry last knew. Phases order them: users, then the groups
-- that name them, then deletes.
CREATE TABLE exports (
    log_id     INTEGER PRIMARY KEY,
    config_id  INTEGER NOT NULL REFERENCES configurations (id) ON DELETE CASCADE,
    anchor     TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('put', 'delete', 'disable')),
    phase      INTEGER NOT NULL,
    state      TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
    -- Times it was handed to the target (counted before the call): an
    -- export tried before, whose answer may have been lost, looks for its
    -- object before creating it.
    attempts   INTEGER NOT NULL DEFAULT 0,
    details    TEXT    NOT NULL DEFAULT '', -- the log entry's details before any answer
    last_error TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX exports_queue ON exports (config_id, state, phase, log_id);
CREATE INDEX exports_anchor ON exports (config_id, anchor);

-- How syncguard finds again, in the target, each object it created or
-- matched there (a SCIM id, an LDAP DN). Objects without a link are never
-- modified or deleted; held: disabled for the hold (SPEC section 10).
CREATE TABLE target_links (
    config_id INTEGER NOT NULL REFERENCES configurations (id) ON DELETE CASCADE,
    anchor    TEXT    NOT NULL,
    link      TEXT    NOT NULL,
    held      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (config_id, anchor)
) WITHOUT ROWID;
