"""python -m services.expiration (the listener; the worker is services.expiration.worker)"""

from services.expiration.bootstrap import create_listener
from services.expiration.config import Settings
from shared.runner import run_service

if __name__ == "__main__":
    run_service("expiration", Settings.from_env, create_listener)
