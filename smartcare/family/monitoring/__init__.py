"""Remote monitoring: plans, threshold and trend rules, alerts, escalation and the care team dashboard."""
