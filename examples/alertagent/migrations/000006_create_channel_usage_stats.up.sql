-- v2.0.0-004: one row per channel and day.
CREATE TABLE channel_usage_stats (
    id               BIGSERIAL PRIMARY KEY,
    channel_id       UUID NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
    date             DATE NOT NULL,
    total_messages   INTEGER NOT NULL DEFAULT 0,
    success_messages INTEGER NOT NULL DEFAULT 0,
    failed_messages  INTEGER NOT NULL DEFAULT 0,
    avg_response_ms  INTEGER NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uq_channel_usage_stats_channel_date UNIQUE (channel_id, date),
    CONSTRAINT ck_channel_usage_stats_counts
        CHECK (success_messages + failed_messages <= total_messages)
);

CREATE INDEX idx_channel_usage_stats_date ON channel_usage_stats (date);
