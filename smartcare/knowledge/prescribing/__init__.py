"""The prescription audit (合理用药审方) as pure functions: order lines checked against the patient's facts and the
drug knowledge, the dose arithmetic it rests on, and the facts read from a patient's FHIR resources."""
