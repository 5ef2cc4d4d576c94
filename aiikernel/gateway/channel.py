"""HTTP/1.1 to the gateway over its Unix socket, with the standard library only.

Kernels talk to their gateway through this rather than httpx: httpx brings httpcore,
anyio, h11, h2, idna, certifi, an SSL context (and rich, click and pygments for its
command line when they are installed) — about 9 MB resident and tens of milliseconds of
import per kernel, for a local socket that needs none of it.

Each request has a connection of its own (``Connection: close``): connecting to a Unix
socket costs microseconds, one request's slow stream never holds up another's, and
closing the connection is how a request is cancelled (the gateway then cancels its
upstream call). :func:`request` is the blocking form for short exchanges (hello,
shutdown, capabilities); :func:`open_stream` the asyncio form for streamed replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import TypeVar

T = TypeVar("T")

#: Largest status line or header line accepted from the gateway.
HEAD_LIMIT = 64 * 1024


class ChannelError(OSError):
    """The socket could not be reached, or the reply was cut off or malformed."""


class _UnixConnection(http.client.HTTPConnection):
    """:class:`http.client.HTTPConnection` whose transport is a Unix socket."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("gateway", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def request(
    path: str,
    method: str,
    target: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    timeout: float = 3.0,
) -> tuple[int, bytes]:
    """One blocking exchange: ``(status, body)``; :class:`ChannelError` when it failed."""
    connection = _UnixConnection(path, timeout)
    try:
        connection.request(method, target, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise ChannelError(str(exc) or type(exc).__name__) from None
    finally:
        connection.close()


def _head(method: str, target: str, body: bytes, headers: Mapping[str, str]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: gateway", "Connection: close"]
    lines.append(f"Content-Length: {len(body)}")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class StreamedReply:
    """A reply being read: its status and headers, then its body in pieces or as lines."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        read_timeout: float,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._timeout = read_timeout
        self._expired = False
        self.status = 0
        self.headers: dict[str, str] = {}

    def _expire(self) -> None:
        self._expired = True
        self._writer.transport.abort()  # the pending read ends at once

    async def _guarded(self, awaitable: Awaitable[T]) -> T:
        """``await awaitable``, or TimeoutError after ``read_timeout`` seconds of silence.

        Not :func:`asyncio.wait_for`: before Python 3.12 it can swallow a cancellation that
        arrives as the read completes, and a cancelled request must always stop reading
        (closing the connection is what cancels the gateway's upstream request)."""
        handle = asyncio.get_running_loop().call_later(self._timeout, self._expire)
        try:
            result = await awaitable
        except (OSError, asyncio.IncompleteReadError):
            if self._expired:
                raise TimeoutError(f"no data for {self._timeout:g} s") from None
            raise
        finally:
            handle.cancel()
        if self._expired:
            raise TimeoutError(f"no data for {self._timeout:g} s")
        return result

    async def _line(self) -> bytes:
        try:
            line = await self._guarded(self._reader.readline())
        except ValueError:  # longer than the reader's limit
            raise ChannelError("a line of the gateway's reply is too long") from None
        if not line.endswith(b"\n"):
            raise ChannelError("the connection closed in the middle of the reply")
        return line.rstrip(b"\r\n")

    async def read_head(self) -> None:
        status_line = (await self._line()).decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ChannelError(f"not an HTTP reply: {status_line[:80]!r}")
        self.status = int(parts[1])
        while line := await self._line():
            name, _, value = line.decode("latin-1").partition(":")
            self.headers[name.strip().lower()] = value.strip()

    async def _exactly(self, size: int) -> bytes:
        try:
            return await self._guarded(self._reader.readexactly(size))
        except asyncio.IncompleteReadError:
            raise ChannelError("the connection closed in the middle of the reply") from None

    async def pieces(self) -> AsyncIterator[bytes]:
        """The body as it arrives (chunked, sized, or up to the end of the connection)."""
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size_line = (await self._line()).split(b";", 1)[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    raise ChannelError("malformed chunk in the gateway's reply") from None
                if size == 0:
                    while await self._line():  # trailers, up to the empty line
                        pass
                    return
                yield await self._exactly(size)
                if await self._exactly(2) != b"\r\n":
                    raise ChannelError("malformed chunk in the gateway's reply")
        elif "content-length" in self.headers:
            remaining = int(self.headers["content-length"])
            while remaining > 0:
                piece = await self._guarded(self._reader.read(min(remaining, 65536)))
                if not piece:
                    raise ChannelError("the connection closed in the middle of the reply")
                remaining -= len(piece)
                yield piece
        else:
            while piece := await self._guarded(self._reader.read(65536)):
                yield piece

    async def read(self) -> bytes:
        return b"".join([piece async for piece in self.pieces()])

    async def lines(self) -> AsyncIterator[str]:
        """The body as text lines without their line ends (server-sent events)."""
        pending = b""
        async for piece in self.pieces():
            pending += piece
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield line.rstrip(b"\r").decode("utf-8")
        if pending:
            yield pending.rstrip(b"\r").decode("utf-8")

    def close(self) -> None:
        self._writer.close()


@contextlib.asynccontextmanager
async def open_stream(
    path: str,
    method: str,
    target: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    read_timeout: float = 150.0,
) -> AsyncIterator[StreamedReply]:
    """Send a request and yield its reply once the head arrived; the connection is closed
    on leaving (also on cancellation, which is how the gateway learns the caller is gone).

    Raises :class:`ChannelError` for an unreachable socket or a broken reply, and
    :class:`TimeoutError` when the gateway is silent for ``read_timeout`` seconds.
    """
    try:  # a Unix socket connects at once or fails (a full backlog too): no timeout needed
        reader, writer = await asyncio.open_unix_connection(path, limit=HEAD_LIMIT)
    except OSError as exc:
        raise ChannelError(str(exc) or type(exc).__name__) from None
    reply = StreamedReply(reader, writer, read_timeout)
    try:
        try:
            writer.write(_head(method, target, body, headers or {}) + body)
            await reply._guarded(writer.drain())
            await reply.read_head()
        except TimeoutError:
            raise
        except (OSError, UnicodeDecodeError) as exc:
            if isinstance(exc, ChannelError):
                raise
            raise ChannelError(str(exc) or type(exc).__name__) from None
        yield reply
    finally:
        reply.close()
