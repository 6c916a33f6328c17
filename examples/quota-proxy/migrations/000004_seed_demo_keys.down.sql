-- Removes only the demo keys. With foreign keys on, this fails while
-- usage_stats still has rows for them: delete those first if you mean it.
DELETE FROM api_keys WHERE key IN ('demo-key-123', 'test-key-456');
