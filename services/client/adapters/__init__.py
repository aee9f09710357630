"""client's adapters: the platform's HTTP APIs."""
