"""python -m services.tickets"""

from services.tickets.api.app import create_app
from services.tickets.config import Settings
from shared.runner import run_service

if __name__ == "__main__":
    run_service("tickets", Settings.from_env, create_app)
