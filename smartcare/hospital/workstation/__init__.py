"""The doctor's workstation: the today list, the patient chart and the work done from it."""
