-- migrata:alembic-revision f1234567890a
-- Add node table
-- Alembic revision f1234567890a (after 1a31ce608336): its upgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

CREATE TABLE node (
    id UUID NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    ip VARCHAR(64) NOT NULL, 
    description VARCHAR(255), 
    tags JSONB DEFAULT '[]'::jsonb NOT NULL, 
    status VARCHAR(32) DEFAULT 'offline' NOT NULL, 
    PRIMARY KEY (id)
);

CREATE INDEX ix_node_name ON node (name);
