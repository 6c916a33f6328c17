-- A repeatable migration: re-applied whenever this file changes.
DROP VIEW IF EXISTS user_stats;
CREATE VIEW user_stats AS
    SELECT u.id, u.email, COUNT(p.id) AS posts
    FROM users u LEFT JOIN posts p ON p.user_id = u.id
    GROUP BY u.id, u.email;
