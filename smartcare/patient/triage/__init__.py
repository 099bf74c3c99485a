"""Patient triage: the one-shot JSON API (POST /api/v1/triage/assess) over the triage engine in knowledge.triage."""
