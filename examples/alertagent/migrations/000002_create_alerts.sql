-- AlertAgent v1: alerts raised by the rules. One file, two sections.

-- migrate:up
CREATE TABLE alerts (
    id          BIGSERIAL PRIMARY KEY,
    rule_id     BIGINT REFERENCES rules (id) ON DELETE SET NULL,
    name        VARCHAR(255) NOT NULL,
    fingerprint VARCHAR(64) NOT NULL,
    level       VARCHAR(20) NOT NULL DEFAULT 'warning'
                CHECK (level IN ('info', 'warning', 'critical')),
    status      VARCHAR(20) NOT NULL DEFAULT 'firing'
                CHECK (status IN ('firing', 'acknowledged', 'resolved')),
    source      VARCHAR(255),
    content     TEXT,
    labels      JSONB NOT NULL DEFAULT '{}'::jsonb,
    annotations JSONB NOT NULL DEFAULT '{}'::jsonb,
    starts_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    ends_at     TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_alerts_rule_id ON alerts (rule_id);
CREATE INDEX idx_alerts_fingerprint ON alerts (fingerprint);
CREATE INDEX idx_alerts_status_starts_at ON alerts (status, starts_at DESC);

-- migrate:down
DROP TABLE alerts;
