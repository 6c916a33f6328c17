DROP INDEX idx_alerts_convergence_id;
DROP INDEX idx_alerts_ai_analysis_id;
DROP INDEX idx_alerts_processing_status;
DROP INDEX idx_alerts_channel_id;
DROP INDEX idx_alerts_cluster_id;

ALTER TABLE alerts
    DROP COLUMN convergence_id,
    DROP COLUMN ai_analysis_id,
    DROP COLUMN processing_status,
    DROP COLUMN channel_id,
    DROP COLUMN cluster_id;
