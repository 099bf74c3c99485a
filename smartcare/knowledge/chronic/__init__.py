"""Hypertension and type 2 diabetes follow-up rules of China's basic public health service, as data and pure functions."""
