"""The registration desk: find a patient, book, take the fee, check in and print the slip at the window."""
