-- migrata:alembic-revision a1234567890b
-- Add node last_heartbeat
-- Alembic revision a1234567890b (after f1234567890a): its upgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

ALTER TABLE node ADD COLUMN last_heartbeat TIMESTAMP WITH TIME ZONE;
