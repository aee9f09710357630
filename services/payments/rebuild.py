"""python -m services.payments.rebuild orders: rebuild payments' order replica while it runs."""

from services.payments.bootstrap import REBUILDABLE
from shared.messaging.rebuild import main

if __name__ == "__main__":
    raise SystemExit(main(REBUILDABLE))
