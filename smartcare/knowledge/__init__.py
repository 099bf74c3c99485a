"""Clinical knowledge as data and pure functions: drugs and interactions, diseases, calculators."""
