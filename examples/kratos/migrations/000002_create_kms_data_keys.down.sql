-- Undo 000002 from the top down: the view and the trigger depend on the
-- table, the trigger on its function.
DROP VIEW IF EXISTS kms_key_stats;

DROP TRIGGER IF EXISTS trigger_update_kms_data_keys_updated_at ON kms_data_keys;
DROP FUNCTION IF EXISTS update_kms_data_keys_updated_at();

-- DROP TABLE would take the indexes with it; they are listed for clarity.
DROP INDEX IF EXISTS idx_kms_data_keys_version_status;
DROP INDEX IF EXISTS idx_kms_data_keys_key_hash;
DROP INDEX IF EXISTS idx_kms_data_keys_expires_at;
DROP INDEX IF EXISTS idx_kms_data_keys_created_at;
DROP INDEX IF EXISTS idx_kms_data_keys_status;
DROP INDEX IF EXISTS idx_kms_data_keys_version;

DROP TABLE IF EXISTS kms_data_keys;
