DROP TABLE usage_stats;
