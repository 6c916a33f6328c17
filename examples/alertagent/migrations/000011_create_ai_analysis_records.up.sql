-- v2.0.0-009: root-cause analyses requested from the AI service.
CREATE TABLE ai_analysis_records (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    alert_id           BIGINT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    analysis_type      VARCHAR(50) NOT NULL DEFAULT 'root_cause_analysis',
    model              VARCHAR(100),
    request_data       JSONB,
    response_data      JSONB,
    analysis_result    JSONB,
    confidence_score   NUMERIC(3, 2) CHECK (confidence_score BETWEEN 0 AND 1),
    processing_time_ms INTEGER,
    status             VARCHAR(20) NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    error_message      TEXT,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_ai_analysis_records_alert_id ON ai_analysis_records (alert_id);
CREATE INDEX idx_ai_analysis_records_status ON ai_analysis_records (status);

ALTER TABLE alert_processing_records
    ADD CONSTRAINT fk_alert_processing_records_analysis
    FOREIGN KEY (analysis_id) REFERENCES ai_analysis_records (id) ON DELETE SET NULL;
