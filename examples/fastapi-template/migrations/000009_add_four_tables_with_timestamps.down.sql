-- Add four tables with timestamps
-- Alembic revision e3c92c171920 (after c1234567890d): its downgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

DROP TABLE prompt;

DROP TABLE credential;

DROP TABLE repository;

DROP TABLE project;
