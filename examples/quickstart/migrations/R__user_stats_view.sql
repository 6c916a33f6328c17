-- A repeatable migration: re-applied whenever its up part changes,
-- undone by `migrata down base`.
-- migrate:up
DROP VIEW IF EXISTS user_stats;
CREATE VIEW user_stats AS
    SELECT u.id, u.email, COUNT(p.id) AS posts
    FROM users u LEFT JOIN posts p ON p.user_id = u.id
    GROUP BY u.id, u.email;

-- migrate:down
DROP VIEW IF EXISTS user_stats;
