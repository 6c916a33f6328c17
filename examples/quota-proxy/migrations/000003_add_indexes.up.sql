-- Lookups by key, and usage reports per key and per time range.
CREATE INDEX idx_api_keys_key ON api_keys(key);
CREATE INDEX idx_usage_stats_api_key ON usage_stats(api_key);
CREATE INDEX idx_usage_stats_timestamp ON usage_stats(timestamp);
