"""The common library every service imports: errors, web, identity, events, messaging, storage."""
