-- A single file with both directions (dbmate style).
-- migrate:up
CREATE TABLE posts (
    id      INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title   TEXT NOT NULL,
    body    TEXT NOT NULL DEFAULT ''
);

-- Keep a post count on users; the trigger body has its own semicolons.
ALTER TABLE users ADD COLUMN post_count INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER posts_count_insert AFTER INSERT ON posts BEGIN
    UPDATE users SET post_count = post_count + 1 WHERE id = NEW.user_id;
END;

-- migrate:down
DROP TRIGGER posts_count_insert;
ALTER TABLE users DROP COLUMN post_count;
DROP TABLE posts;
