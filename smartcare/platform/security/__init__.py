"""Identity and access: who is calling, and what the one access policy lets them do."""
