"""Fault injection for the whole stack ("our Jepsen"): ``python -m tools.chaos``.

Drives purchase flows through the gateway while processes are killed, the broker and
Redis restart and Stripe fails; then waits for the stack to settle and checks the
product's promises across every store and Stripe's own view.
"""
