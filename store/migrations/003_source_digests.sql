-- What the source looked like when a cycle last left the target directory
-- equal to it: a fingerprint of every record, in the order the source gave
-- them. A cycle whose source gives the same records, under the same
-- settings and with the target untouched since (same generation), has
-- nothing to do, and is recorded as such without planning: reading a
-- million-entry export then costs about what reading it does.
CREATE TABLE source_digests (
    config_id   INTEGER PRIMARY KEY REFERENCES configurations (id) ON DELETE CASCADE,
    generation  INTEGER NOT NULL, -- the configuration generation the digest describes
    fingerprint TEXT    NOT NULL, -- the source, scope and planner the records were planned with
    in_scope    INTEGER NOT NULL, -- users and groups in scope among the records
    sums        BLOB    NOT NULL  -- 16 bytes per record, in source order
);
