-- Add registration key table
-- Alembic revision b1234567890c (after a1234567890b): its downgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

DROP TABLE node_registration_key;
