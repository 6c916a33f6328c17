DROP TABLE channel_permissions;
