-- v2.0.0-013 (part 2): alerts learn their cluster, the channel that sent
-- them, where processing stands, and their AI analysis and convergence.
ALTER TABLE alerts
    ADD COLUMN cluster_id UUID
        CONSTRAINT fk_alerts_cluster REFERENCES alertmanager_clusters (id) ON DELETE SET NULL,
    ADD COLUMN channel_id UUID
        CONSTRAINT fk_alerts_channel REFERENCES alert_channels (id) ON DELETE SET NULL,
    ADD COLUMN processing_status VARCHAR(20) NOT NULL DEFAULT 'pending'
        CONSTRAINT ck_alerts_processing_status
        CHECK (processing_status IN ('pending', 'analyzing', 'processed', 'ignored', 'failed')),
    ADD COLUMN ai_analysis_id UUID
        CONSTRAINT fk_alerts_ai_analysis REFERENCES ai_analysis_records (id) ON DELETE SET NULL,
    ADD COLUMN convergence_id UUID
        CONSTRAINT fk_alerts_convergence REFERENCES alert_convergence_records (id) ON DELETE SET NULL;

-- v1 alerts that were already resolved need no processing.
UPDATE alerts SET processing_status = 'processed' WHERE status = 'resolved';

CREATE INDEX idx_alerts_cluster_id ON alerts (cluster_id);
CREATE INDEX idx_alerts_channel_id ON alerts (channel_id);
CREATE INDEX idx_alerts_processing_status ON alerts (processing_status);
CREATE INDEX idx_alerts_ai_analysis_id ON alerts (ai_analysis_id);
CREATE INDEX idx_alerts_convergence_id ON alerts (convergence_id);
