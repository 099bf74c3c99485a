"""The personal health record in the app: timeline, trends, lists, the person's own entries, exports and import."""
