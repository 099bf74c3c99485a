"""Clinical decision support over CDS Hooks 2.0: patient-view care gaps and the prescription audit on orders."""
