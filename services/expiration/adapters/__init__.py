"""expiration's storage: the arq jobs in Redis."""
