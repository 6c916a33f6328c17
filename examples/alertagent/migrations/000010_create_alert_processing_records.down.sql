DROP TABLE alert_processing_records;
