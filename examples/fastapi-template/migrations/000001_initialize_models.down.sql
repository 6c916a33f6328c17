-- Initialize models
-- Alembic revision e2412789c190 (after the base): its downgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

DROP TABLE item;

DROP INDEX ix_user_email;

DROP TABLE "user";
