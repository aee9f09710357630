"""python -m services.auth"""

from services.auth.bootstrap import create_service
from services.auth.config import Settings
from shared.runner import run_service

if __name__ == "__main__":
    run_service("auth", Settings.from_env, create_service)
