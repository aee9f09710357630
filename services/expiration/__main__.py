"""python -m services.expiration (the listener; the worker is services.expiration.worker)"""

from services.expiration.api.app import create_app
from services.expiration.config import Settings
from shared.runner import run_service

if __name__ == "__main__":
    run_service("expiration", Settings.from_env, create_app)
