"""Simulated people: one cookie jar each, retrying through the unavailability faults cause.

Every request is recorded on the run's timeline. A logical action keeps one
``Idempotency-Key`` across its retries, so a retry after a 502 (the service died after
committing, say) gets the first outcome instead of doing it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from shared.web.requests import IDEMPOTENCY_HEADER
from tools.chaos.timeline import NO_ANSWER, UNAVAILABLE, Timeline

# 409: a concurrent modification, worth trying again; 429: the gateway's sign-up limit.
RETRIED = UNAVAILABLE | {409, 429}
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30)
SIGNUP_CONCURRENCY = 4  # scrypt is CPU work for auth; more at once only queues
MAX_OPEN_PER_USER = 3  # a coming rule caps the orders one user holds open


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any


class User:
    """Someone using the APIs through the gateway."""

    def __init__(
        self, url: str, http: aiohttp.ClientSession, timeline: Timeline, patience_s: float
    ) -> None:
        self.url = url
        self.http = http
        self.timeline = timeline
        self.patience_s = patience_s
        self.email = f"chaos-{uuid.uuid4().hex[:12]}@test.com"

    async def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        route: str | None = None,
        retry_unknown: bool = False,
        base: str | None = None,
    ) -> Reply:
        """The answer to one logical request, retried while the stack is unavailable (and,
        with ``retry_unknown``, while a service has not heard of the thing yet: 404)."""
        headers = {IDEMPOTENCY_HEADER: uuid.uuid4().hex} if method == "POST" else {}
        deadline = time.monotonic() + self.patience_s
        delay_s = 0.1
        while True:
            reply = await self._once(method, f"{base or self.url}{path}", body, headers)
            self.timeline.answer(method, route or path, reply.status)
            again = reply.status in RETRIED or (retry_unknown and reply.status == 404)
            if not again or time.monotonic() + delay_s > deadline:
                return reply
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 2.0)

    async def _once(self, method: str, url: str, body: Any, headers: dict[str, str]) -> Reply:
        try:
            async with self.http.request(
                method, url, json=body, headers=headers, timeout=REQUEST_TIMEOUT
            ) as response:
                text = await response.text()
                parsed = (
                    json.loads(text) if text and response.content_type.endswith("json") else None
                )
                return Reply(response.status, parsed)
        except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError):
            return Reply(NO_ANSWER, None)

    async def sign_up(self, base: str | None) -> None:
        reply = await self.send(
            "POST", "/api/users/signup", {"email": self.email, "password": "password"}, base=base
        )
        if reply.status != 201:
            raise RuntimeError(f"sign-up of {self.email} answered {reply.status}: {reply.body}")


class Pool:
    """Users made once, handed out so no one is in more than ``MAX_OPEN_PER_USER`` flows as
    a buyer at once and no seller buys their own ticket."""

    def __init__(self, users: list[User]) -> None:
        self.users = users
        self.busy: Counter[str] = Counter()

    @staticmethod
    def size_for(concurrency: int) -> int:
        # At most `concurrency` users are at the cap at once, so this leaves at least
        # `concurrency + 4` free: enough for three buyers who are not the seller.
        return 2 * concurrency + 4

    def take(self, buyers: int, rng: random.Random) -> tuple[User, list[User]]:
        seller = rng.choice(self.users)
        free = [u for u in self.users if u is not seller and self.busy[u.email] < MAX_OPEN_PER_USER]
        chosen = rng.sample(free, buyers)
        for user in chosen:
            self.busy[user.email] += 1
        return seller, chosen

    def give_back(self, buyers: list[User]) -> None:
        for user in buyers:
            self.busy[user.email] -= 1


@contextlib.asynccontextmanager
async def user_pool(
    url: str, size: int, timeline: Timeline, *, patience_s: float, signup_base: str | None
) -> AsyncIterator[Pool]:
    """``size`` signed-up users (at ``signup_base``, auth's own port, when given: the
    gateway limits sign-ups to 5/s)."""
    sessions = [
        # unsafe: the gateway is an IP address, whose cookies a strict jar would drop.
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        for _ in range(size)
    ]
    try:
        users = [User(url, http, timeline, patience_s) for http in sessions]
        gate = asyncio.Semaphore(SIGNUP_CONCURRENCY)

        async def sign_up(user: User) -> None:
            async with gate:
                await user.sign_up(signup_base)

        await asyncio.gather(*(sign_up(user) for user in users))
        yield Pool(users)
    finally:
        await asyncio.gather(*(http.close() for http in sessions))
