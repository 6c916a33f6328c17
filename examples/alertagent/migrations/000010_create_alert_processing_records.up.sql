-- v2.0.0-008: the processing pipeline of each alert. analysis_id gets its
-- foreign key in 000011, where ai_analysis_records is created.
CREATE TABLE alert_processing_records (
    id                 BIGSERIAL PRIMARY KEY,
    alert_id           BIGINT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    cluster_id         UUID REFERENCES alertmanager_clusters (id) ON DELETE SET NULL,
    received_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at       TIMESTAMPTZ,
    processing_status  VARCHAR(20) NOT NULL DEFAULT 'received'
                       CHECK (processing_status IN ('received', 'analyzing', 'processed', 'failed')),
    analysis_id        UUID,
    decision           JSONB,
    action_taken       VARCHAR(100),
    resolution_time_ms INTEGER,
    feedback_score     NUMERIC(3, 2) CHECK (feedback_score BETWEEN 0 AND 1),
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_alert_processing_records_alert_id ON alert_processing_records (alert_id);
CREATE INDEX idx_alert_processing_records_cluster_id ON alert_processing_records (cluster_id);
CREATE INDEX idx_alert_processing_records_analysis_id ON alert_processing_records (analysis_id);
CREATE INDEX idx_alert_processing_records_status ON alert_processing_records (processing_status);
CREATE INDEX idx_alert_processing_records_received_at ON alert_processing_records (received_at);
