-- Data migration: the two demo keys the guide's smoke tests use.
INSERT INTO api_keys (key, name, quota_limit) VALUES
    ('demo-key-123', '演示密钥', 100),
    ('test-key-456', '测试密钥', 500);
