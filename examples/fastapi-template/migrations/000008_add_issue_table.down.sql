-- Add issue table
-- Alembic revision c1234567890d (after b1234567890c): its downgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

DROP INDEX ix_issue_status;

DROP TABLE issue;
