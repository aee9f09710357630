"""client: the web pages (spec §12), rendered on the server from the platform's own APIs."""
