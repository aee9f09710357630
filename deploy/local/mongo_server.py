"""Run mongoeco's MongoDB wire-protocol server (needs Python 3.13 and mongoeco).

Usage: python mongo_server.py [PORT] [--data FILE]   (port 0 or none = a free port)

In memory by default; with ``--data`` on mongoeco's SQLite engine in ``FILE``, so the data
outlives the server (``make up``). Prints ``READY <uri>`` once listening, stops cleanly on
SIGTERM/SIGINT. Kept free of project imports so it runs from the separate 3.13 interpreter
that has mongoeco. Run as a script, its folder comes first on sys.path: no module beside it
may be named ``mongoeco``.

mongoeco's SQLite engine has one connection: while a session's transaction is open, every
other session's command fails ("active transaction bound to another session"), reads
included. The server therefore lets one transaction run at a time and holds other sessions'
commands until it commits or aborts (``TransactionGate``), as a lock would. This reaches into
the wire server's private dispatch; mongoeco is pinned (Makefile) for that reason.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from typing import Any

# A transaction whose session sends nothing for this long is aborted, so that the others may
# go on; mongod's transactionLifetimeLimitSeconds plays this part. (One whose process died is
# aborted at once: the connection that carried it closes.)
IDLE_TRANSACTION_LIMIT_S = 10.0
ENDS_TRANSACTION = ("commitTransaction", "abortTransaction")


class TransactionGate:
    """A readers-writer lock over sessions: an open transaction excludes every other session.

    A transaction starts once no other session's command is in flight (one already inside
    the engine would meet the transaction and fail); meanwhile new commands wait, so that a
    stream of reads cannot keep it from starting.
    """

    def __init__(self, abort: Any) -> None:
        self._abort = abort  # abort(session_key): rolls the session's transaction back
        self._owner: str | None = None  # the session whose transaction is open
        self._last_seen = 0.0  # when the owner last sent a command
        self._owner_connection: int | None = None  # the connection it last sent one on
        self._in_flight = 0  # other sessions' commands being executed
        self._starting = 0  # transactions waiting to start
        self._changed = asyncio.Condition()

    async def enter(self, key: str | None, body: dict[str, Any], connection: int) -> bool:
        """Wait for this command's turn; True when it counts as in flight (call ``leave``)."""
        if key is None:  # no session: hello, ping and such, never inside a transaction
            return False
        async with self._changed:
            if self._owner == key:
                self._last_seen, self._owner_connection = time.monotonic(), connection
                return False
            if body.get("startTransaction") is True:
                self._starting += 1
                try:
                    await self._wait_for(lambda: self._owner is None and self._in_flight == 0)
                finally:
                    self._starting -= 1
                self._owner, self._last_seen = key, time.monotonic()
                self._owner_connection = connection
                return False
            await self._wait_for(lambda: self._owner is None and self._starting == 0)
            self._in_flight += 1
            return True

    async def leave(self, key: str | None, body: dict[str, Any], *, in_flight: bool) -> None:
        async with self._changed:
            if in_flight:
                self._in_flight -= 1
            ends = any(name in body for name in ENDS_TRANSACTION)
            if key is not None and self._owner == key and ends:
                self._owner = None
            self._changed.notify_all()

    async def connection_closed(self, connection: int) -> None:
        async with self._changed:
            if self._owner is not None and self._owner_connection == connection:
                self._abort_owner()

    def _abort_owner(self) -> None:
        self._abort(self._owner)
        self._owner = self._owner_connection = None
        self._changed.notify_all()

    async def _wait_for(self, ready: Any) -> None:
        while not ready():
            idle_s = time.monotonic() - self._last_seen
            if self._owner is not None and idle_s >= IDLE_TRANSACTION_LIMIT_S:
                self._abort_owner()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), IDLE_TRANSACTION_LIMIT_S)


def gated_server(engine: Any, port: int) -> Any:
    from mongoeco.wire._session_identity import wire_session_key
    from mongoeco.wire.protocol import OP_MSG, decode_op_msg
    from mongoeco.wire.proxy import AsyncMongoEcoProxyServer

    class GatedServer(AsyncMongoEcoProxyServer):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(engine=engine, host="127.0.0.1", port=port)
            self.gate = TransactionGate(self._abort)
            self._closings: set[asyncio.Task[None]] = set()
            registry, close = self._connections, self._connections.close

            def closing(connection: Any) -> None:
                close(connection)
                task = asyncio.get_running_loop().create_task(
                    self.gate.connection_closed(connection.connection_id)
                )
                self._closings.add(task)  # held until done: the loop keeps only a weak one
                task.add_done_callback(self._closings.discard)

            registry.close = closing

        def _abort(self, key: str) -> None:
            context = self._session_store._sessions.get(key)
            if context is not None and context.session.transaction_active:
                context.session.abort_transaction()

        async def _dispatch_wire_request(self, header: Any, payload: bytes, **kwargs: Any) -> Any:
            body: dict[str, Any] = {}
            if header.op_code == OP_MSG:
                try:
                    body = decode_op_msg(header, payload).body
                except Exception:  # the server's own dispatch reports a bad message
                    body = {}
            lsid = body.get("lsid")
            key = wire_session_key(lsid) if lsid is not None else None
            connection = kwargs["connection"].connection_id
            in_flight = await self.gate.enter(key, body, connection)
            try:
                return await super()._dispatch_wire_request(header, payload, **kwargs)
            finally:
                await self.gate.leave(key, body, in_flight=in_flight)

    return GatedServer()


async def main(port: int, data: str | None) -> None:
    if data:
        from mongoeco.engines.sqlite import SQLiteEngine

        server = gated_server(SQLiteEngine(data), port)
    else:
        from mongoeco.engines.memory import MemoryEngine
        from mongoeco.wire.proxy import AsyncMongoEcoProxyServer

        server = AsyncMongoEcoProxyServer(engine=MemoryEngine(), host="127.0.0.1", port=port)
    address = await server.start()
    print("READY", address.uri, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", nargs="?", type=int, default=0)
    parser.add_argument("--data", help="the SQLite file to keep the data in")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.port, arguments.data))
