-- Edit replace id integers in all models to use UUID instead
-- Alembic revision d98dd8ec85a3 (after 9c0a54914c78): its downgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

ALTER TABLE "user" ADD COLUMN old_id SERIAL;

ALTER TABLE item ADD COLUMN old_id SERIAL;

ALTER TABLE item ADD COLUMN old_owner_id INTEGER;

UPDATE item SET old_owner_id = "user".old_id FROM "user" WHERE item.owner_id = "user".id;

ALTER TABLE item DROP CONSTRAINT item_owner_id_fkey;

ALTER TABLE item DROP COLUMN owner_id;

ALTER TABLE item RENAME old_owner_id TO owner_id;

ALTER TABLE "user" DROP CONSTRAINT user_pkey;

ALTER TABLE "user" DROP COLUMN id;

ALTER TABLE "user" RENAME old_id TO id;

ALTER TABLE "user" ADD CONSTRAINT user_pkey PRIMARY KEY (id);

ALTER TABLE item DROP CONSTRAINT item_pkey;

ALTER TABLE item DROP COLUMN id;

ALTER TABLE item RENAME old_id TO id;

ALTER TABLE item ADD CONSTRAINT item_pkey PRIMARY KEY (id);

ALTER TABLE item ADD CONSTRAINT item_owner_id_fkey FOREIGN KEY(owner_id) REFERENCES "user" (id);
