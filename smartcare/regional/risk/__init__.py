"""Disease risk across the region: calculators as an API, risk assessments, and personalised intervention plans."""
