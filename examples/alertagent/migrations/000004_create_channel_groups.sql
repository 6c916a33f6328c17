-- v2.0.0-002: channel groups, nested by parent_id; alert_channels.group_id
-- now points here.

-- migrate:up
CREATE TABLE channel_groups (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name        VARCHAR(100) NOT NULL UNIQUE,
    description TEXT,
    parent_id   UUID REFERENCES channel_groups (id) ON DELETE SET NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_channel_groups_parent_id ON channel_groups (parent_id);

ALTER TABLE alert_channels
    ADD CONSTRAINT fk_alert_channels_group
    FOREIGN KEY (group_id) REFERENCES channel_groups (id) ON DELETE SET NULL;

-- migrate:down
ALTER TABLE alert_channels DROP CONSTRAINT fk_alert_channels_group;
DROP TABLE channel_groups;
