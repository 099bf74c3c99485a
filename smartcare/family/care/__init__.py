"""The caregiver's family view: the people they look after, with their alerts, home readings and medicines."""
