-- The web console's sign-in: an optional password per account (an Argon2 PHC string, never the
-- password) and browser sessions, keyed by the SHA-256 of the cookie's token so a copy of the
-- database does not hand out live sessions.
CREATE TABLE console_passwords (
    account_id TEXT PRIMARY KEY REFERENCES accounts (account_id),
    hash TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE console_sessions (
    id_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    region TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
