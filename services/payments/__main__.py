"""python -m services.payments"""

from services.payments.api.app import create_app
from services.payments.config import Settings
from shared.runner import run_service

if __name__ == "__main__":
    run_service("payments", Settings.from_env, create_app)
