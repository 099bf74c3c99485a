"""Scheduling: schedule templates that make FHIR Schedules and Slots, and booking, cancelling and rescheduling them."""
