-- AlertAgent v1: alert rules (Prometheus-style expressions).
CREATE TABLE rules (
    id          BIGSERIAL PRIMARY KEY,
    name        VARCHAR(255) NOT NULL UNIQUE,
    description TEXT,
    expression  TEXT NOT NULL,
    duration    VARCHAR(32) NOT NULL DEFAULT '5m',
    level       VARCHAR(20) NOT NULL DEFAULT 'warning'
                CHECK (level IN ('info', 'warning', 'critical')),
    labels      JSONB NOT NULL DEFAULT '{}'::jsonb,
    annotations JSONB NOT NULL DEFAULT '{}'::jsonb,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_rules_level ON rules (level);
CREATE INDEX idx_rules_enabled ON rules (enabled) WHERE enabled;
