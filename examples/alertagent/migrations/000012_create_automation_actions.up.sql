-- v2.0.0-010: automated remediation steps taken for an alert.
CREATE TABLE automation_actions (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    alert_id          BIGINT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    analysis_id       UUID REFERENCES ai_analysis_records (id) ON DELETE SET NULL,
    action_type       VARCHAR(100) NOT NULL,
    target_info       JSONB,
    parameters        JSONB,
    execution_status  VARCHAR(20) NOT NULL DEFAULT 'pending'
                      CHECK (execution_status IN ('pending', 'executing', 'completed', 'failed')),
    execution_result  JSONB,
    execution_time_ms INTEGER,
    error_message     TEXT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_automation_actions_alert_id ON automation_actions (alert_id);
CREATE INDEX idx_automation_actions_analysis_id ON automation_actions (analysis_id);
CREATE INDEX idx_automation_actions_action_type ON automation_actions (action_type);
CREATE INDEX idx_automation_actions_status ON automation_actions (execution_status);
