-- api_keys exists with the guide's columns (the first query fails on a missing one).
SELECT id, key, name, quota_limit, quota_used, created_at, updated_at, is_active FROM api_keys LIMIT 0;
SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'api_keys';
