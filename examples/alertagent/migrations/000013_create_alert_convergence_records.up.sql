-- v2.0.0-011: alerts folded together under one convergence key.
CREATE TABLE alert_convergence_records (
    id                         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    convergence_key            VARCHAR(255) NOT NULL,
    alert_count                INTEGER NOT NULL DEFAULT 1 CHECK (alert_count >= 1),
    first_alert_time           TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_alert_time            TIMESTAMPTZ NOT NULL DEFAULT now(),
    convergence_window_seconds INTEGER NOT NULL DEFAULT 300,
    status                     VARCHAR(20) NOT NULL DEFAULT 'active'
                               CHECK (status IN ('active', 'expired', 'processed')),
    representative_alert_id    BIGINT REFERENCES alerts (id) ON DELETE SET NULL,
    converged_alerts           JSONB NOT NULL DEFAULT '[]'::jsonb,
    created_at                 TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                 TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT ck_alert_convergence_records_window CHECK (last_alert_time >= first_alert_time)
);

-- One open convergence window per key.
CREATE UNIQUE INDEX idx_alert_convergence_records_active_key
    ON alert_convergence_records (convergence_key) WHERE status = 'active';
CREATE INDEX idx_alert_convergence_records_last_alert_time
    ON alert_convergence_records (last_alert_time);
CREATE INDEX idx_alert_convergence_records_representative_alert_id
    ON alert_convergence_records (representative_alert_id);
