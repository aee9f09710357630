"""python -m services.orders.rebuild tickets: rebuild orders' ticket replica while it runs."""

from services.orders.bootstrap import REBUILDABLE
from shared.messaging.rebuild import main

if __name__ == "__main__":
    raise SystemExit(main(REBUILDABLE))
