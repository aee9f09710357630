"""expiration: holds each order's reservation timer and announces when it runs out.

Two processes share this package: the listener (``python -m services.expiration``)
schedules an arq job per ``order.created``; the worker
(``python -m services.expiration.worker``) runs the jobs and publishes
``expiration.complete``.
"""
