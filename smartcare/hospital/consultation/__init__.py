"""Online consultation: a patient's text consultation with a doctor or a department's on-duty pool."""
