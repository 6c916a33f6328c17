DROP TABLE cluster_health_status;
