"""The ticketing services; each runs as ``python -m services.<name>``."""
