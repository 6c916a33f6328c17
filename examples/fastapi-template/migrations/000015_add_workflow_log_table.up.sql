-- migrata:alembic-revision 19be435a02b1
-- Add workflow log table
-- Alembic revision 19be435a02b1 (after 2b2a406df71b): its upgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

CREATE TABLE workflowlog (
    id UUID NOT NULL, 
    issue_id UUID NOT NULL, 
    node_id UUID, 
    step_name VARCHAR(255) NOT NULL, 
    status VARCHAR(32) NOT NULL, 
    command TEXT, 
    output TEXT, 
    error_message TEXT, 
    duration_ms INTEGER, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (id), 
    FOREIGN KEY(issue_id) REFERENCES issue (id) ON DELETE CASCADE, 
    FOREIGN KEY(node_id) REFERENCES node (id) ON DELETE SET NULL
);

CREATE INDEX ix_workflowlog_issue_id ON workflowlog (issue_id);
