"""The whole stack on one machine without Docker: ``make up`` (``python -m deploy.local``).

Two halves: ``hosts`` provisions the machine (RabbitMQ, Redis and nginx, installed from
Debian's packages and started when missing) and ``mongodb`` starts MongoDB wire servers
(mongoeco, in memory or kept in a file); ``stack`` orchestrates the processes (each service,
the Stripe emulator, the nginx ``gateway``), kept running by the ``supervisor``, and prints
the ``banner`` when ready. ``generations`` ties the broker's and Redis's objects to the kept
stores in ``.run/data``, which ``reset`` wipes (``make reset``). ``keys`` makes dev JWT key
pairs (``make keys``). The end-to-end tests and ``tools.chaos`` run their stacks from here too.
Nothing here is in the production image.
"""
