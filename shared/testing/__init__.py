"""Test support shared by every service: real-infrastructure fixtures and fakes."""
