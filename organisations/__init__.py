"""Organisations: the directory a council loads, and who each organisation is."""
