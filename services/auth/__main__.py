"""python -m services.auth"""

from services.auth.api.app import create_app
from services.auth.config import Settings
from shared.runner import run_service

if __name__ == "__main__":
    run_service("auth", Settings.from_env, create_app)
