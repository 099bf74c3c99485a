"""Hospital services and navigation for the patient app: hospital information, nearest hospitals, directions."""
