-- Add workflow log table
-- Alembic revision 19be435a02b1 (after 2b2a406df71b): its downgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

DROP INDEX ix_workflowlog_issue_id;

DROP TABLE workflowlog;
