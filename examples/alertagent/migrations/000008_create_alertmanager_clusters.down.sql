DROP TABLE alertmanager_clusters;
