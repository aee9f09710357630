"""The expiration worker: runs the arq expiry jobs in-process, next to /healthz and /readyz."""
