"""The web shell: the ASGI application and what every surface shares."""
