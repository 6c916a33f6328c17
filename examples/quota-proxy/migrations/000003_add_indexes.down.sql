DROP INDEX idx_usage_stats_timestamp;
DROP INDEX idx_usage_stats_api_key;
DROP INDEX idx_api_keys_key;
