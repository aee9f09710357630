"""Programs that are not services: fault injection, and whatever else operates the stack."""
