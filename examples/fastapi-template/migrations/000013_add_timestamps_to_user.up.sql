-- migrata:alembic-revision 0a0ed29996b1
-- Add timestamps to user
-- Alembic revision 0a0ed29996b1 (after 26c2c831dc19): its upgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

ALTER TABLE "user" ADD COLUMN created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL;

ALTER TABLE "user" ADD COLUMN updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL;
