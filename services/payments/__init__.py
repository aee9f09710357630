"""payments: charge an order through Stripe; a replica of orders to check against."""
