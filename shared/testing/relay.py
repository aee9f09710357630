"""A TCP relay to a real server that a test can cut (an outage) and restore."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


class TcpRelay:
    """Listens on a local port of its own and pipes each connection to ``target``.

    ``cut()`` refuses new connections and drops the open ones, as a server that went away
    would; ``restore()`` listens again on the same port. ``drop_once_after(n)`` drops the
    open connections once the clients have sent ``n`` more bytes (a server lost in the
    middle of a conversation, back at once).
    """

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._drop_at: int | None = None
        self.port = 0
        self.sent = 0  # bytes the clients sent through the relay
        self.drops = 0

    def drop_once_after(self, more_bytes: int) -> None:
        self._drop_at = self.sent + more_bytes

    @classmethod
    def to_url(cls, url: str, default_port: int) -> TcpRelay:
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or default_port)

    def url(self, url: str, **query: str) -> str:
        """``url`` through the relay: its host and port replaced (credentials kept), and
        ``query`` parameters set."""
        parts = urlsplit(url)
        credentials, _, _ = parts.netloc.rpartition("@")
        netloc = f"{credentials}@" if credentials else ""
        params = {**dict(parse_qsl(parts.query)), **query}
        return urlunsplit(
            parts._replace(netloc=f"{netloc}127.0.0.1:{self.port}", query=urlencode(params))
        )

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            # Not wait_closed(): from 3.12 on it waits for the piped connections too.
            self._server.close()
            self._server = None
        for pipe in self._pipes:
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        pipes = [
            asyncio.create_task(_pipe(reader, upstream_writer, self._count_sent)),
            asyncio.create_task(_pipe(upstream_reader, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            self._pipes.difference_update(pipes)
            writer.close()
            upstream_writer.close()

    def _count_sent(self, size: int) -> None:
        self.sent += size
        if self._drop_at is not None and self.sent >= self._drop_at:
            self._drop_at = None
            self.drops += 1
            for pipe in self._pipes:
                pipe.cancel()


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    on_data: Callable[[int], None] = lambda size: None,
) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
            on_data(len(data))


@asynccontextmanager
async def relay_to(url: str, default_port: int, *, up: bool = True) -> AsyncIterator[TcpRelay]:
    """A relay to the server at ``url``, listening (``up``) or cut from the start."""
    relay = TcpRelay.to_url(url, default_port)
    await relay.restore()  # takes the port the relay keeps
    if not up:
        await relay.cut()
    try:
        yield relay
    finally:
        await relay.cut()
