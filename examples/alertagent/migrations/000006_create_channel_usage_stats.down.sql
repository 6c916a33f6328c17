DROP TABLE channel_usage_stats;
