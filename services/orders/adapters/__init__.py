"""orders' storage: the orders and the ticket replica in MongoDB."""
