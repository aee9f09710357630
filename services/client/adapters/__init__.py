"""client's adapters: its outbound side, the platform's HTTP APIs (ports.Apis)."""
