-- Add timestamps to item
-- Alembic revision 2b2a406df71b (after 0a0ed29996b1): its downgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

ALTER TABLE item DROP COLUMN updated_at;

ALTER TABLE item DROP COLUMN created_at;
