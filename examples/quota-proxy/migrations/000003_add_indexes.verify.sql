-- The three indexes of the guide.
SELECT COUNT(*) = 3 FROM sqlite_master
 WHERE type = 'index'
   AND name IN ('idx_api_keys_key', 'idx_usage_stats_api_key', 'idx_usage_stats_timestamp');
