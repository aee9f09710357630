"""What ``make up`` prints once every process is ready: where it is, and what to try."""

from __future__ import annotations

from pathlib import Path

# Relative to the repository, where `make up` runs: the session the commands share.
COOKIE_JAR = ".run/cookies.txt"


def try_commands(url: str) -> list[tuple[str, str]]:
    """(what it does, the shell command) for a newcomer's first three requests."""
    # -w: a newline after each answer, so that the next prompt starts on a line of its own.
    curl = "curl -s -w '\\n'"
    post = f"{curl} -H 'Content-Type: application/json' -b {COOKIE_JAR} -c {COOKIE_JAR}"
    return [
        (
            "sign up (keeps the session in " + COOKIE_JAR + "; next time: /api/users/signin)",
            f"""{post} -d '{{"email":"me@example.com","password":"correct-horse"}}' """
            f"{url}/api/users/signup",
        ),
        (
            "sell a ticket",
            f"""{post} -d '{{"title":"Concert","price":20}}' {url}/api/tickets""",
        ),
        ("list the tickets for sale", f"{curl} {url}/api/tickets"),
    ]


def ready_banner(url: str, data_dir: Path | None) -> str:
    lines = [f"ready: {url}  (open it in a browser; Ctrl-C stops everything)"]
    if data_dir is not None:
        lines.append(f"data kept in {data_dir} across restarts; `make reset` wipes it")
    lines.append("try:")
    for what, command in try_commands(url):
        lines += [f"  # {what}", f"  {command}"]
    return "\n".join(lines)
