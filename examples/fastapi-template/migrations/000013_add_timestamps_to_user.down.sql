-- Add timestamps to user
-- Alembic revision 0a0ed29996b1 (after 26c2c831dc19): its downgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

ALTER TABLE "user" DROP COLUMN updated_at;

ALTER TABLE "user" DROP COLUMN created_at;
