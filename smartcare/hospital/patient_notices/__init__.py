"""What the patient, and those who look after them, hear of their care team's work online."""
