"""First-aid guides in the patient app: step-by-step screens with pictures, a CPR metronome, and offline use."""
