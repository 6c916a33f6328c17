-- v2.0.0-005: who may read, change or administer a channel.
CREATE TABLE channel_permissions (
    id         BIGSERIAL PRIMARY KEY,
    channel_id UUID NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
    user_id    VARCHAR(64) NOT NULL,
    permission VARCHAR(10) NOT NULL CHECK (permission IN ('read', 'write', 'admin')),
    granted_by VARCHAR(64),
    granted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uq_channel_permissions_user_channel UNIQUE (user_id, channel_id)
);

CREATE INDEX idx_channel_permissions_channel_id ON channel_permissions (channel_id);
