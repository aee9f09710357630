"""The whole stack on one machine without Docker: ``make up`` (``python -m deploy.local``).

Two halves: ``hosts`` provisions the machine (RabbitMQ, Redis and nginx, installed from
Debian's packages and started when missing) and ``mongodb`` starts in-memory MongoDB wire
servers; ``stack`` orchestrates the processes (each service, the Stripe emulator, the nginx
``gateway``), kept running by the ``supervisor``. ``keys`` makes dev JWT key pairs
(``make keys``). The end-to-end tests and ``tools.chaos`` run their stacks from here too.
Nothing here is in the production image.
"""
