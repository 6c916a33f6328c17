-- migrata:alembic-revision 1ee55d360fcb
-- Add owner_id and timestamps to node
-- Alembic revision 1ee55d360fcb (after g1234567890e): its upgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

ALTER TABLE node ADD COLUMN owner_id UUID;

ALTER TABLE node ADD CONSTRAINT node_owner_id_fkey FOREIGN KEY(owner_id) REFERENCES "user" (id) ON DELETE CASCADE;

ALTER TABLE node ADD COLUMN created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL;

ALTER TABLE node ADD COLUMN updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL;
