"""PTB's transport over aiohttp instead of httpx, for everything the bot sends to Telegram.

Why not PTB's default (httpx): measured against the Bot API fake on loopback, httpx spends about 0.7 ms of CPU
per request and gets slower as connections are added (0.75 ms with 4, 1.5 ms with 16), which caps one process
near 1,000 messages/s on loopback and far lower against Telegram's real round trip, where a paid broadcast
needs about a hundred requests in flight. aiohttp spends about 0.09 ms and keeps that with 64 connections. In
webhook mode on PostgreSQL the httpx transport was about half of a process's CPU per update (bench/processes.py).

Errors are mapped for at-most-once sending: only a connection that could not be opened is a NetworkError
(nothing left this machine, safe to retry); anything that fails after the request may have been written is
TimedOut (the sender records it `unknown`, never resent).
"""

from __future__ import annotations

from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# An upload (a lead list of up to 50 MB, a QR code) may take longer than any reply; it gets this long in all.
UPLOAD_SECONDS = 120.0


class AiohttpRequest(BaseRequest):
    __slots__ = ("_connections", "_read_timeout", "_connect_timeout", "_session")

    def __init__(self, connections: int, read_timeout: float = 10.0, connect_timeout: float = 5.0):
        self._connections = connections
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # No pool timeout: a send waiting for a free connection has not left, and must not be
            # mistaken for one that timed out on the way.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout=BaseRequest.DEFAULT_NONE,
        write_timeout=BaseRequest.DEFAULT_NONE,
        connect_timeout=BaseRequest.DEFAULT_NONE,
        pool_timeout=BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        uploading = request_data is not None and request_data.contains_files
        timeout = aiohttp.ClientTimeout(
            total=UPLOAD_SECONDS if uploading else None,
            connect=None,
            sock_connect=self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout,
            sock_read=self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout,
        )
        body: dict[str, Any]  # aiohttp's keyword arguments: a form (data=) or json=
        if uploading and request_data is not None:
            body = {"data": _form(request_data)}
        else:
            body = {"json": request_data.parameters} if request_data is not None else {}
        try:
            async with self._session.request(method, url, timeout=timeout, **body) as response:
                return response.status, await response.read()
        except aiohttp.ClientConnectorError as error:
            raise NetworkError(f"aiohttp.{error.__class__.__name__}: {error}") from error
        except (TimeoutError, aiohttp.ClientError) as error:
            raise TimedOut(f"aiohttp.{error.__class__.__name__}: {error}") from error


def _form(request_data: RequestData) -> aiohttp.FormData:
    """multipart/form-data as the Bot API takes files: each parameter JSON-encoded, each file a part."""
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
