-- Why each staged delete would delete its object (SPEC section 9): one of
-- a closed set of causes, kept on the staged delete (the status info
-- groups by it; Allow deletes may one day take one cause) and on its
-- provisioning log entry (history). Deletions staged before causes were
-- recorded were all objects missing from the source: "deleted at the
-- source" is the truest default.
ALTER TABLE staged_deletes ADD COLUMN cause TEXT NOT NULL DEFAULT 'deleted at the source'
    CHECK (cause IN ('deleted at the source', 'moved out of scope', 'scope changed', 'scope OU gone',
                     'no longer a user or group'));
-- The cause of a StagedDelete entry, and of the Delete entry that applied
-- it; '' for every other entry.
ALTER TABLE provisioning_log ADD COLUMN cause TEXT NOT NULL DEFAULT ''
    CHECK (cause IN ('', 'deleted at the source', 'moved out of scope', 'scope changed', 'scope OU gone',
                     'no longer a user or group'));
