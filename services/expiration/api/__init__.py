"""The expiration listener's HTTP side: health and readiness only."""
