"""Platform services shared by every domain: settings, database, security, events, clock."""
