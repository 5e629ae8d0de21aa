-- Text search of the provisioning log (any substring of the name or DN)
-- without scanning a configuration's whole log: a trigram full-text index.
-- Kept by triggers it would double the cost of writing a big cycle's log,
-- so it is filled after the fact (Store.IndexLogText, in the background of
-- `serve`) up to log_text_state.indexed_id; entries above that are searched
-- with LIKE. detail=none keeps it small: each candidate is checked with
-- LIKE, so a trigram match that is not a substring never shows.
CREATE VIRTUAL TABLE provisioning_log_text USING fts5(
    name, dn, content='provisioning_log', content_rowid='id', tokenize='trigram', detail='none');
CREATE TABLE log_text_state (indexed_id INTEGER NOT NULL);
INSERT INTO log_text_state (indexed_id) VALUES (0);
-- An indexed entry that is pruned leaves the index with it.
CREATE TRIGGER provisioning_log_text_delete AFTER DELETE ON provisioning_log
WHEN old.id <= (SELECT indexed_id FROM log_text_state) BEGIN
    INSERT INTO provisioning_log_text (provisioning_log_text, rowid, name, dn) VALUES ('delete', old.id, old.name, old.dn);
END;

-- How many users and groups each target directory holds, kept by the
-- transactions that change it: counting a million-object directory on every
-- page view took longer than the rest of the page.
ALTER TABLE configurations ADD COLUMN object_users INTEGER NOT NULL DEFAULT 0;
ALTER TABLE configurations ADD COLUMN object_groups INTEGER NOT NULL DEFAULT 0;
CREATE INDEX target_objects_type ON target_objects (config_id, type);
UPDATE configurations SET
    object_users = (SELECT count(*) FROM target_objects t WHERE t.config_id = configurations.id AND t.type = 'user'),
    object_groups = (SELECT count(*) FROM target_objects t WHERE t.config_id = configurations.id AND t.type = 'group');
