-- Both demo keys the guide's smoke tests use, active, with their quotas.
SELECT COUNT(*) = 2 FROM api_keys
 WHERE is_active = 1
   AND ((key = 'demo-key-123' AND quota_limit = 100)
     OR (key = 'test-key-456' AND quota_limit = 500));
