-- v2.0.0-007: which rule version went to which cluster, and how it went.
CREATE TABLE rule_distributions (
    id            BIGSERIAL PRIMARY KEY,
    rule_id       BIGINT NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
    cluster_id    UUID NOT NULL REFERENCES alertmanager_clusters (id) ON DELETE CASCADE,
    version       VARCHAR(50),
    status        VARCHAR(20) NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'synced', 'failed')),
    sync_time     TIMESTAMPTZ,
    retry_count   INTEGER NOT NULL DEFAULT 0,
    error_message TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uq_rule_distributions_rule_cluster UNIQUE (rule_id, cluster_id)
);

CREATE INDEX idx_rule_distributions_cluster_id ON rule_distributions (cluster_id);
CREATE INDEX idx_rule_distributions_status ON rule_distributions (status);
