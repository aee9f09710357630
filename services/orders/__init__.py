"""orders: reserve a ticket for 15 minutes; cancel, expire or complete the order."""
