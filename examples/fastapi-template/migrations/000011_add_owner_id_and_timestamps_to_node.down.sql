-- Add owner_id and timestamps to node
-- Alembic revision 1ee55d360fcb (after g1234567890e): its downgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

ALTER TABLE node DROP COLUMN updated_at;

ALTER TABLE node DROP COLUMN created_at;

ALTER TABLE node DROP CONSTRAINT node_owner_id_fkey;

ALTER TABLE node DROP COLUMN owner_id;
