"""The patient's one-stop app shell: the home with what matters now, the service grid, the PWA and settings."""
