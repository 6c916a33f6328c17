-- Add node last_heartbeat
-- Alembic revision a1234567890b (after f1234567890a): its downgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

ALTER TABLE node DROP COLUMN last_heartbeat;
