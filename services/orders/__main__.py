"""python -m services.orders"""

from services.orders.bootstrap import create_service
from services.orders.config import Settings
from shared.runner import run_service

if __name__ == "__main__":
    run_service("orders", Settings.from_env, create_service)
