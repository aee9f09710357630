"""python -m services.expiration.worker"""

from services.expiration.bootstrap import create_worker
from services.expiration.config import Settings
from shared.runner import run_service

if __name__ == "__main__":
    run_service("expiration-worker", Settings.from_env, create_worker)
