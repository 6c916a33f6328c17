-- KMS data keys: each row is one version of a data key, encrypted with the
-- root key. Rotation inserts a new version; at most one row per version is
-- active at a time.
CREATE TABLE IF NOT EXISTS kms_data_keys (
    id            VARCHAR(36) PRIMARY KEY,
    version       INTEGER NOT NULL,
    algorithm     VARCHAR(50) NOT NULL DEFAULT 'AES-256-GCM',
    encrypted_key BYTEA NOT NULL,
    key_hash      VARCHAR(64) NOT NULL,
    status        VARCHAR(20) NOT NULL DEFAULT 'active',
    created_at    TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at    TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires_at    TIMESTAMP WITH TIME ZONE,
    metadata      JSONB,

    CONSTRAINT kms_data_keys_status_check
        CHECK (status IN ('active', 'inactive', 'expired', 'revoked')),
    CONSTRAINT kms_data_keys_algorithm_check
        CHECK (algorithm IN ('AES-256-GCM', 'AES-256-CBC', 'ChaCha20-Poly1305', 'SM4-GCM'))
);

CREATE INDEX IF NOT EXISTS idx_kms_data_keys_version ON kms_data_keys (version);
CREATE INDEX IF NOT EXISTS idx_kms_data_keys_status ON kms_data_keys (status);
CREATE INDEX IF NOT EXISTS idx_kms_data_keys_created_at ON kms_data_keys (created_at);
CREATE INDEX IF NOT EXISTS idx_kms_data_keys_expires_at ON kms_data_keys (expires_at);
CREATE INDEX IF NOT EXISTS idx_kms_data_keys_key_hash ON kms_data_keys (key_hash);

-- Only one active row per key version.
CREATE UNIQUE INDEX IF NOT EXISTS idx_kms_data_keys_version_status
    ON kms_data_keys (version, status)
    WHERE status = 'active';

COMMENT ON TABLE kms_data_keys IS 'KMS data keys, encrypted with the root key';
COMMENT ON COLUMN kms_data_keys.id IS 'key identifier (UUID text)';
COMMENT ON COLUMN kms_data_keys.version IS 'key version, raised by each rotation';
COMMENT ON COLUMN kms_data_keys.algorithm IS 'encryption algorithm the key is for';
COMMENT ON COLUMN kms_data_keys.encrypted_key IS 'the data key, encrypted with the root key';
COMMENT ON COLUMN kms_data_keys.key_hash IS 'hash of the plain key, to verify it after decryption';
COMMENT ON COLUMN kms_data_keys.status IS 'active, inactive, expired or revoked';
COMMENT ON COLUMN kms_data_keys.created_at IS 'when the key was created';
COMMENT ON COLUMN kms_data_keys.updated_at IS 'last change, kept by a trigger';
COMMENT ON COLUMN kms_data_keys.expires_at IS 'when the key expires (NULL: never)';
COMMENT ON COLUMN kms_data_keys.metadata IS 'free-form key metadata (JSON)';

-- Keep updated_at current on every UPDATE.
CREATE OR REPLACE FUNCTION update_kms_data_keys_updated_at()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = CURRENT_TIMESTAMP;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER trigger_update_kms_data_keys_updated_at
    BEFORE UPDATE ON kms_data_keys
    FOR EACH ROW
    EXECUTE FUNCTION update_kms_data_keys_updated_at();

-- Keys per status and algorithm, for operators.
CREATE OR REPLACE VIEW kms_key_stats AS
SELECT
    status,
    algorithm,
    COUNT(*) AS key_count,
    MIN(created_at) AS earliest_created,
    MAX(created_at) AS latest_created,
    COUNT(CASE WHEN expires_at IS NOT NULL AND expires_at < CURRENT_TIMESTAMP THEN 1 END) AS expired_count
FROM kms_data_keys
GROUP BY status, algorithm;

COMMENT ON VIEW kms_key_stats IS 'KMS key counts per status and algorithm';
