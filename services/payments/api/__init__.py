"""payments' HTTP API."""
