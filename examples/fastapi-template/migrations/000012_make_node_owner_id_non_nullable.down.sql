-- Make node owner_id non-nullable
-- Alembic revision 26c2c831dc19 (after 1ee55d360fcb): its downgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

ALTER TABLE node ALTER COLUMN owner_id DROP NOT NULL;
