-- migrata:alembic-revision b1234567890c
-- Add registration key table
-- Alembic revision b1234567890c (after a1234567890b): its upgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

CREATE TABLE node_registration_key (
    id SERIAL NOT NULL, 
    key VARCHAR(64) NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (id), 
    CONSTRAINT node_registration_key_single_row CHECK (id = 1)
);

INSERT INTO node_registration_key (id, key) VALUES (1, md5(random()::text));
