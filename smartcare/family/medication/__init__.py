"""The intelligent medication system: dosing schedules, reminders, adherence, remaining dose and warnings."""
