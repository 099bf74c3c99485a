"""The patient's booking pages: choose a department, doctor and slot, book, pay, and follow "my visits"."""
