-- One row per proxied request. api_key must name an existing key:
-- migrata (and the service) open SQLite with PRAGMA foreign_keys = ON.
CREATE TABLE usage_stats (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    api_key TEXT NOT NULL,              -- the key that made the request
    endpoint TEXT NOT NULL,             -- the path requested
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    response_time_ms INTEGER,           -- response time in milliseconds
    status_code INTEGER,                -- HTTP status returned
    FOREIGN KEY (api_key) REFERENCES api_keys(key)
);
