DROP TABLE channel_templates;
