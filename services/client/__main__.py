"""python -m services.client"""

from services.client.config import Settings
from services.client.web.app import create_app
from shared.runner import run_service

if __name__ == "__main__":
    run_service("client", Settings.from_env, create_app)
