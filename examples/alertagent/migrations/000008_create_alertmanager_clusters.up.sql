-- v2.0.0-006: the Alertmanager clusters rules are distributed to.
CREATE TABLE alertmanager_clusters (
    id                    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name                  VARCHAR(100) NOT NULL UNIQUE,
    endpoint              VARCHAR(255) NOT NULL,
    config_path           VARCHAR(255),
    rules_path            VARCHAR(255),
    sync_interval         INTEGER NOT NULL DEFAULT 30 CHECK (sync_interval > 0),
    health_check_interval INTEGER NOT NULL DEFAULT 10 CHECK (health_check_interval > 0),
    status                VARCHAR(20) NOT NULL DEFAULT 'active'
                          CHECK (status IN ('active', 'inactive', 'error')),
    labels                JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_alertmanager_clusters_status ON alertmanager_clusters (status);
