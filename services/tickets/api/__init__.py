"""tickets' HTTP API."""
