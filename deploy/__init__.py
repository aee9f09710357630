"""Deployment files; ``deploy.local`` is the stack on one machine (``make up``)."""
