"""The regional health platform: what the region does with the records of all its institutions (research, public health)."""
