"""The load generator's HTTP client."""

from __future__ import annotations

import asyncio
import re


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client: a load generator that costs little CPU, so the
    machine's two cores go to the system under test (httpx costs ~10x more per request)."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.head}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        for attempt in (0, 1):
            reused = bool(self.idle) and attempt == 0  # the retry takes a new connection
            if reused:
                reader, writer = self.idle.pop()
            else:
                reader, writer = await asyncio.open_connection(self.host, self.port)
                self.opened += 1
            try:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                match = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                payload = await reader.readexactly(int(match.group(1))) if match else b""
            except (OSError, asyncio.IncompleteReadError):
                writer.close()
                if reused and attempt == 0:
                    continue  # the server closed an idle connection: once more on a new one
                raise
            if re.search(rb"(?i)\r\nconnection: *close", head):
                writer.close()
            else:
                self.idle.append((reader, writer))
            return status, payload
        raise AssertionError("unreachable")

    def close(self) -> None:
        for _reader, writer in self.idle:
            writer.close()
