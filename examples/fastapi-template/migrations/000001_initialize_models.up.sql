-- migrata:alembic-revision e2412789c190
-- Initialize models
-- Alembic revision e2412789c190 (after the base): its upgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

CREATE TABLE "user" (
    id SERIAL NOT NULL, 
    email VARCHAR NOT NULL, 
    hashed_password VARCHAR NOT NULL, 
    full_name VARCHAR, 
    is_active BOOLEAN NOT NULL, 
    is_superuser BOOLEAN NOT NULL, 
    PRIMARY KEY (id)
);

CREATE UNIQUE INDEX ix_user_email ON "user" (email);

CREATE TABLE item (
    id SERIAL NOT NULL, 
    title VARCHAR NOT NULL, 
    description VARCHAR, 
    owner_id INTEGER, 
    PRIMARY KEY (id), 
    CONSTRAINT item_owner_id_fkey FOREIGN KEY(owner_id) REFERENCES "user" (id)
);
