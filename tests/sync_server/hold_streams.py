"""Holds N event streams open from a process of its own (so the test's process counts
only the server's objects): ``python -m tests.sync_server.hold_streams PORT AUTH N``.
Prints ``open`` once every stream has read its first poke; ends at a line on stdin."""

from __future__ import annotations

import asyncio
import sys


async def hold(port: int, authorization: str, count: int) -> None:
    streams = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /api/v1/sync/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Accept: text/event-stream\r\nAuthorization: {authorization}\r\n\r\n"
                     .encode())
        await writer.drain()
        streams.append((reader, writer))
    for reader, _writer in streams:  # a refused stream ends the holder (no "open")
        await asyncio.wait_for(reader.readuntil(b"event: poke"), 30)
    print("open", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    for _reader, writer in streams:
        writer.close()


if __name__ == "__main__":
    asyncio.run(hold(int(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
