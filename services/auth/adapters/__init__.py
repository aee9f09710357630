"""auth's storage: the users repository and its in-memory twin."""
