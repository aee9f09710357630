"""orders' HTTP API."""
