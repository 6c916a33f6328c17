-- usage_stats exists, and its api_key column points at api_keys(key).
SELECT id, api_key, endpoint, timestamp, response_time_ms, status_code FROM usage_stats LIMIT 0;
SELECT COUNT(*) = 1 FROM pragma_foreign_key_list('usage_stats')
 WHERE "table" = 'api_keys' AND "from" = 'api_key' AND "to" = 'key';
