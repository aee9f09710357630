"""tickets' storage."""
