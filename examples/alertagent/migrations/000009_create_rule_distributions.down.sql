DROP TABLE rule_distributions;
