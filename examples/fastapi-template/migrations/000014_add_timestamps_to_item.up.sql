-- migrata:alembic-revision 2b2a406df71b
-- Add timestamps to item
-- Alembic revision 2b2a406df71b (after 0a0ed29996b1): its upgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

ALTER TABLE item ADD COLUMN created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL;

ALTER TABLE item ADD COLUMN updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL;
