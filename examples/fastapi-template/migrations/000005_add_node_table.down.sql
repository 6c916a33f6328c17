-- Add node table
-- Alembic revision f1234567890a (after 1a31ce608336): its downgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

DROP INDEX ix_node_name;

DROP TABLE node;
