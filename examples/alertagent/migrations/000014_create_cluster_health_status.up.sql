-- v2.0.0-012: health probes of the Alertmanager clusters, newest first.
CREATE TABLE cluster_health_status (
    id               BIGSERIAL PRIMARY KEY,
    cluster_id       UUID NOT NULL REFERENCES alertmanager_clusters (id) ON DELETE CASCADE,
    status           VARCHAR(20) NOT NULL DEFAULT 'unknown'
                     CHECK (status IN ('healthy', 'warning', 'critical', 'unknown')),
    response_time_ms INTEGER,
    success_rate     NUMERIC(5, 2) CHECK (success_rate BETWEEN 0 AND 100),
    last_check_time  TIMESTAMPTZ NOT NULL DEFAULT now(),
    error_message    TEXT,
    metrics          JSONB,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_cluster_health_status_cluster_time
    ON cluster_health_status (cluster_id, last_check_time DESC);
CREATE INDEX idx_cluster_health_status_status ON cluster_health_status (status);
