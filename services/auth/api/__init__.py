"""auth's HTTP API."""
