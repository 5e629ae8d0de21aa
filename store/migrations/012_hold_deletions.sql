-- A hold before deletions become final (SPEC section 10): with a hold, a
-- deletion syncguard applies (allowed by an admin, or under the limits)
-- first takes the object out of the target directory copy into
-- held_objects, and disables it in the target; the purge deletes it for
-- good when its hold ends, and Restore (or the source bringing it back)
-- puts it back as it was.

-- How long deletions are held: 0 = deleted at once; at most 90 days.
ALTER TABLE configurations ADD COLUMN hold_ms INTEGER NOT NULL DEFAULT 0
    CHECK (hold_ms BETWEEN 0 AND 7776000000);

-- The objects on hold, each as the target directory copy last had it
-- (attributes and content hash, to put it back as it was), with the
-- groups that named it (member_of: a JSON array of their anchors, '' for
-- none), the OU it was in, why it went, the cycle that deleted it (or
-- whose staged deletion was allowed), who allowed it ('syncguard' for a
-- deletion under the limits), when, when its hold ends and how long that
-- hold was.
CREATE TABLE held_objects (
    id         INTEGER PRIMARY KEY,
    config_id  INTEGER NOT NULL REFERENCES configurations (id) ON DELETE CASCADE,
    anchor     TEXT    NOT NULL,
    type       TEXT    NOT NULL CHECK (type IN ('user', 'group')),
    dn         TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    attributes TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    member_of  TEXT    NOT NULL DEFAULT '',
    ou         TEXT    NOT NULL DEFAULT '',
    cause      TEXT    NOT NULL DEFAULT '',
    cycle_id   INTEGER NOT NULL,
    allowed_by TEXT    NOT NULL,
    deleted_at INTEGER NOT NULL,
    purge_at   INTEGER NOT NULL,
    hold_ms    INTEGER NOT NULL,
    UNIQUE (config_id, anchor)
);
CREATE INDEX held_objects_purge ON held_objects (purge_at);
CREATE INDEX held_objects_ou ON held_objects (config_id, ou);

-- How many objects a cycle restored: objects back in the source during
-- their hold (not counted among its creates).
ALTER TABLE cycles ADD COLUMN restores INTEGER NOT NULL DEFAULT 0;
