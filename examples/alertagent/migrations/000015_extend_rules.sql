-- v2.0.0-013 (part 1): rules learn their cluster, their channel group, a
-- priority, tags and free-form metadata.

-- migrate:up
ALTER TABLE rules
    ADD COLUMN cluster_id UUID
        CONSTRAINT fk_rules_cluster REFERENCES alertmanager_clusters (id) ON DELETE SET NULL,
    ADD COLUMN channel_group_id UUID
        CONSTRAINT fk_rules_channel_group REFERENCES channel_groups (id) ON DELETE SET NULL,
    ADD COLUMN priority INTEGER NOT NULL DEFAULT 0
        CONSTRAINT ck_rules_priority CHECK (priority BETWEEN 0 AND 100),
    ADD COLUMN tags JSONB NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN metadata JSONB NOT NULL DEFAULT '{}'::jsonb;

CREATE INDEX idx_rules_cluster_id ON rules (cluster_id);
CREATE INDEX idx_rules_channel_group_id ON rules (channel_group_id);
CREATE INDEX idx_rules_priority ON rules (priority DESC);
CREATE INDEX idx_rules_tags ON rules USING gin (tags);

-- migrate:down
DROP INDEX idx_rules_tags;
DROP INDEX idx_rules_priority;
DROP INDEX idx_rules_channel_group_id;
DROP INDEX idx_rules_cluster_id;

ALTER TABLE rules
    DROP COLUMN metadata,
    DROP COLUMN tags,
    DROP COLUMN priority,
    DROP COLUMN channel_group_id,
    DROP COLUMN cluster_id;
