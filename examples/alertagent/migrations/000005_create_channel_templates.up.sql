-- v2.0.0-003: configuration templates for new channels, one set per type.
-- The default templates are seeded by 000017 (a Python data migration).
CREATE TABLE channel_templates (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name            VARCHAR(100) NOT NULL,
    type            VARCHAR(50) NOT NULL,
    description     TEXT,
    config_template JSONB NOT NULL,
    is_default      BOOLEAN NOT NULL DEFAULT FALSE,
    created_by      VARCHAR(64),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uq_channel_templates_type_name UNIQUE (type, name)
);

-- At most one default template per channel type.
CREATE UNIQUE INDEX idx_channel_templates_default
    ON channel_templates (type) WHERE is_default;
