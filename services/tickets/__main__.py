"""python -m services.tickets"""

from services.tickets.bootstrap import create_service
from services.tickets.config import Settings
from shared.runner import run_service

if __name__ == "__main__":
    run_service("tickets", Settings.from_env, create_service)
