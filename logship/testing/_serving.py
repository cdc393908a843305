"""Serving a local stand-in (Datadog, Slack) from a background thread: start, stop, a context manager."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from typing import Self


class BackgroundServer:
    """A stand-in whose HTTP server (``self._server``, made by the subclass) runs in a daemon thread."""

    _server: ThreadingHTTPServer
    _thread_name = "stand-in"

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the server."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name=self._thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
