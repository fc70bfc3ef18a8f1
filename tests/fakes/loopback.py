"""A platform fake served over real HTTP on 127.0.0.1, in a thread of the test's process: what the fakes of
Telegram's Bot API and of WhatsApp's Graph API share for end-to-end tests."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Self


class LoopbackServer:
    """Start, stop (safe twice), the port, and `with`. Subclasses make their `ThreadingHTTPServer` and may
    do something just before it stops (wake long polls, end keep-alive connections)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (host, port)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _make_server(self) -> ThreadingHTTPServer:
        raise NotImplementedError

    def _before_stop(self) -> None:
        """Called while the server still runs."""

    def _after_close(self) -> None:
        """Called once the server no longer accepts connections."""

    def start(self) -> Self:
        if self._httpd is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._httpd = self._make_server()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            # A short poll interval keeps stop() fast.
            kwargs={"poll_interval": 0.05},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; safe to call twice. A stalled answer still goes out when its delay is over."""
        if self._httpd is None:
            return
        self._before_stop()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._after_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = self._thread = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._httpd.server_address[1]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.stop()
