"""The regional health record: a resident's records from every institution as one, and the basic public-health record."""
