DROP TABLE alert_convergence_records;
