"""Home and ward devices: the registry, credentials, and readings in over MQTT and HTTPS."""
