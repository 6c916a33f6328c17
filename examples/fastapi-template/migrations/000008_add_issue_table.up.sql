-- migrata:alembic-revision c1234567890d
-- Add issue table
-- Alembic revision c1234567890d (after b1234567890c): its upgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

CREATE TABLE issue (
    id UUID NOT NULL, 
    title VARCHAR(255) NOT NULL, 
    description TEXT, 
    repository_url VARCHAR(512) NOT NULL, 
    issue_number INTEGER, 
    status VARCHAR(32) DEFAULT 'pending' NOT NULL, 
    priority INTEGER DEFAULT '0' NOT NULL, 
    assigned_node_id UUID, 
    owner_id UUID NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    started_at TIMESTAMP WITH TIME ZONE, 
    completed_at TIMESTAMP WITH TIME ZONE, 
    error_message TEXT, 
    result_branch VARCHAR(255), 
    PRIMARY KEY (id), 
    FOREIGN KEY(assigned_node_id) REFERENCES node (id) ON DELETE SET NULL, 
    FOREIGN KEY(owner_id) REFERENCES "user" (id) ON DELETE CASCADE
);

CREATE INDEX ix_issue_status ON issue (status);
