DROP INDEX idx_users_created_at;
DROP TABLE users;
