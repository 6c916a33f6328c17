-- v2.0.0-001: notification channels (e-mail, webhook, chat tools...).
-- group_id gets its foreign key in 000004, where channel_groups is created.
CREATE TABLE alert_channels (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name                 VARCHAR(100) NOT NULL UNIQUE,
    type                 VARCHAR(50) NOT NULL
                         CHECK (type IN ('email', 'webhook', 'dingtalk', 'wechat', 'feishu', 'slack', 'sms')),
    description          TEXT,
    config               JSONB NOT NULL,
    group_id             UUID,
    tags                 JSONB NOT NULL DEFAULT '[]'::jsonb,
    status               VARCHAR(20) NOT NULL DEFAULT 'active'
                         CHECK (status IN ('active', 'inactive', 'error')),
    health_status        VARCHAR(20) NOT NULL DEFAULT 'unknown'
                         CHECK (health_status IN ('healthy', 'unhealthy', 'unknown')),
    last_health_check    TIMESTAMPTZ,
    health_error_message TEXT,
    created_by           VARCHAR(64),
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_alert_channels_type ON alert_channels (type);
CREATE INDEX idx_alert_channels_status ON alert_channels (status);
CREATE INDEX idx_alert_channels_group_id ON alert_channels (group_id);
