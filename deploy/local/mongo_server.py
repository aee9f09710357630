"""Run mongoeco's MongoDB wire-protocol server (needs Python 3.13 and mongoeco).

Usage: python mongo_server.py [PORT]   (0 or nothing = a free port)

Prints ``READY <uri>`` once listening, stops cleanly on SIGTERM/SIGINT. Kept free of
project imports so it runs from the separate 3.13 interpreter that has mongoeco. Run as a
script, its folder comes first on sys.path: no module beside it may be named ``mongoeco``.
"""

import asyncio
import signal
import sys


async def main(port: int) -> None:
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
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
