"""payments' storage and its Stripe client."""
