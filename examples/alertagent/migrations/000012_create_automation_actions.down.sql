DROP TABLE automation_actions;
