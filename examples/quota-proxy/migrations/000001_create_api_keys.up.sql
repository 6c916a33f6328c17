-- API keys and their quotas (previously held in memory by quota-proxy).
CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT UNIQUE NOT NULL,           -- the API key itself
    name TEXT,                          -- a label for the key
    quota_limit INTEGER DEFAULT 1000,   -- requests allowed
    quota_used INTEGER DEFAULT 0,       -- requests used so far
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    is_active BOOLEAN DEFAULT 1         -- 0 disables the key
);
