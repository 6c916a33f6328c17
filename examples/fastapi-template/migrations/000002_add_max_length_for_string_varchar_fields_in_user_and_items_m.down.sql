-- Add max length for string(varchar) fields in User and Items models
-- Alembic revision 9c0a54914c78 (after e2412789c190): its downgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

ALTER TABLE "user" ALTER COLUMN email TYPE VARCHAR;

ALTER TABLE "user" ALTER COLUMN full_name TYPE VARCHAR;

ALTER TABLE item ALTER COLUMN title TYPE VARCHAR;

ALTER TABLE item ALTER COLUMN description TYPE VARCHAR;
