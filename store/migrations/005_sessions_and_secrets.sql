-- Sessions live on the server. The cookie carries a random id and only a
-- hash of it is kept here, so that reading the database gives no cookie
-- that signs in. A session belongs to a user by id (a user removed and
-- added again under the same name is another user) and ends with it; a
-- sign-out, a password change and a role change delete it.
CREATE TABLE sessions (
    id_hash    TEXT    PRIMARY KEY,           -- hex SHA-256 of the id the cookie carries
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT    NOT NULL,              -- the synchronizer token of the session's forms
    address    TEXT    NOT NULL DEFAULT '',   -- where it signed in from
    user_agent TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL               -- last use, to the minute
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id, created_at);

-- The keys of the signed session cookies go: whoever read them from the
-- database could forge a cookie for any user.
DELETE FROM settings WHERE key = 'session_keys';

-- The bind passwords stored in clear are encrypted by the step of this
-- migration written in Go (Store.sealPlaintextSecrets): SQL has no key.
