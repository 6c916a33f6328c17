DROP TABLE alert_channels;
