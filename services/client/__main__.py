"""python -m services.client"""

from services.client.bootstrap import create_service
from services.client.config import Settings
from shared.runner import run_service

if __name__ == "__main__":
    run_service("client", Settings.from_env, create_service)
