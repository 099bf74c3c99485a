"""Personalised intervention programmes for modifiable risk factors: guideline rules as data, a pure generator."""
