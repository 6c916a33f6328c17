-- usage_stats exists, and its api_key column points at api_keys(key).
SELECT id, api_key, endpoint, timestamp, response_time_ms, status_code FROM usage_stats LIMIT 0;
-- The foreign key is declared, and no usage row names an unknown key (SQLite
-- enforces the key only on connections that ask: an import or a service
-- that did not could have let one in; see README.md, steps 6 and 8).
SELECT (SELECT COUNT(*) FROM pragma_foreign_key_list('usage_stats')
         WHERE "table" = 'api_keys' AND "from" = 'api_key' AND "to" = 'key') = 1
   AND (SELECT COUNT(*) FROM usage_stats u LEFT JOIN api_keys k ON k.key = u.api_key WHERE k.key IS NULL) = 0;
