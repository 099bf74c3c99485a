"""Health news and announcements: written by hospitals and the health authority, targeted, pushed live, syndicated."""
