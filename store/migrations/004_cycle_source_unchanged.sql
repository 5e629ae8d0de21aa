-- A cycle whose source gave exactly the records of the stored digest is
-- recorded with nothing to do and no planning: the cycle says so itself,
-- for people reading the history and for tests.
ALTER TABLE cycles ADD COLUMN source_unchanged INTEGER NOT NULL DEFAULT 0;
