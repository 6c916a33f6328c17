-- migrata:alembic-revision e3c92c171920
-- Add four tables with timestamps
-- Alembic revision e3c92c171920 (after c1234567890d): its upgrade() rendered for postgresql
-- by alembic's offline mode (`migrata import alembic`).

CREATE TABLE project (
    id UUID NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    description VARCHAR(1024), 
    is_active BOOLEAN DEFAULT true NOT NULL, 
    owner_id UUID NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (id), 
    FOREIGN KEY(owner_id) REFERENCES "user" (id) ON DELETE CASCADE
);

CREATE TABLE repository (
    id UUID NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    url VARCHAR(512) NOT NULL, 
    description VARCHAR(1024), 
    is_public BOOLEAN DEFAULT false NOT NULL, 
    owner_id UUID NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (id), 
    FOREIGN KEY(owner_id) REFERENCES "user" (id) ON DELETE CASCADE
);

CREATE TABLE credential (
    id UUID NOT NULL, 
    title VARCHAR(255) NOT NULL, 
    category VARCHAR(50) NOT NULL, 
    token VARCHAR(1024) NOT NULL, 
    owner_id UUID NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (id), 
    FOREIGN KEY(owner_id) REFERENCES "user" (id) ON DELETE CASCADE
);

CREATE TABLE prompt (
    id UUID NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    content TEXT NOT NULL, 
    description VARCHAR(1024), 
    tags JSONB DEFAULT '[]'::jsonb NOT NULL, 
    owner_id UUID NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (id), 
    FOREIGN KEY(owner_id) REFERENCES "user" (id) ON DELETE CASCADE
);
