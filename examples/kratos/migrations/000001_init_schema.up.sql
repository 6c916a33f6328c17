-- Users. Personal data is stored twice: encrypted with a KMS data key
-- (*_encrypted) for reading it back, and as a SHA-256 hex digest (*_hash)
-- so that look-ups by e-mail, phone or name never decrypt anything.
CREATE TABLE IF NOT EXISTS users (
    id              SERIAL PRIMARY KEY,
    username        VARCHAR(255) NOT NULL UNIQUE,
    password        VARCHAR(255) NOT NULL,
    email_encrypted BYTEA,
    email_hash      VARCHAR(64),
    phone_encrypted BYTEA,
    phone_hash      VARCHAR(64),
    name_encrypted  BYTEA,
    name_hash       VARCHAR(64),
    created_at      TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at      TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- One index per hash column: the equality look-ups of sign-in and search.
CREATE INDEX IF NOT EXISTS idx_users_email_hash ON users (email_hash);
CREATE INDEX IF NOT EXISTS idx_users_phone_hash ON users (phone_hash);
CREATE INDEX IF NOT EXISTS idx_users_name_hash ON users (name_hash);
