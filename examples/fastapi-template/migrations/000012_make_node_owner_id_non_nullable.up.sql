-- migrata:alembic-revision 26c2c831dc19
-- Make node owner_id non-nullable
-- Alembic revision 26c2c831dc19 (after 1ee55d360fcb): its upgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

UPDATE node SET owner_id = (SELECT id FROM "user" WHERE is_superuser ORDER BY email LIMIT 1) WHERE owner_id IS NULL;

DELETE FROM node WHERE owner_id IS NULL;

ALTER TABLE node ALTER COLUMN owner_id SET NOT NULL;
