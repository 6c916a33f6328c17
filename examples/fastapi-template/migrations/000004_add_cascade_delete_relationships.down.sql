-- Add cascade delete relationships
-- Alembic revision 1a31ce608336 (after d98dd8ec85a3): its downgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

ALTER TABLE item DROP CONSTRAINT item_owner_id_fkey;

ALTER TABLE item ADD CONSTRAINT item_owner_id_fkey FOREIGN KEY(owner_id) REFERENCES "user" (id);

ALTER TABLE item ALTER COLUMN owner_id DROP NOT NULL;
