-- Dropping the table drops its indexes and the sequence behind SERIAL too;
-- the indexes are named here so the down part mirrors the up part.
DROP INDEX IF EXISTS idx_users_name_hash;
DROP INDEX IF EXISTS idx_users_phone_hash;
DROP INDEX IF EXISTS idx_users_email_hash;
DROP TABLE IF EXISTS users;
