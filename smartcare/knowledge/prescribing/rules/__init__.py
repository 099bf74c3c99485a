"""The prescription rules, one module per family: interactions, allergy, duplicates, dosing, organs, pregnancy,
conditions, route and frequency."""
