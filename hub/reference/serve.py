"""Run an ASGI app with uvicorn in a background thread: for tests and the demo."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn
from starlette.types import ASGIApp


class ServerHandle:
    def __init__(
        self, server: uvicorn.Server, thread: threading.Thread, sock: socket.socket, url: str
    ) -> None:
        self.server = server
        self.thread = thread
        self.socket = sock
        self.url = url
        """Where the server listens, e.g. ``http://127.0.0.1:53127`` (no trailing slash)."""

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)
        self.socket.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def serve_in_thread(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    log_level: str = "warning",
    startup_timeout: float = 10.0,
) -> ServerHandle:
    """Start serving ``app`` and return once it accepts connections; ``port=0`` picks a
    free port (see ``ServerHandle.url``)."""
    # Bound here rather than by uvicorn, so the port is known before the server starts.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY on accepted connections only
    # when the listening socket says so, and without it every keep-alive response waits
    # ~40 ms between its headers and body (Nagle against delayed ACKs).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    bound = sock.getsockname()[1]
    # log_config=None: uvicorn's loggers propagate to the host's logging, left as it is.
    config = uvicorn.Config(
        app,
        host=host,
        port=bound,
        log_config=None,
        log_level=log_level,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn:{bound}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(startup_timeout)
            sock.close()
            raise RuntimeError(f"the server on {host}:{bound} did not start")
        time.sleep(0.01)
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    return ServerHandle(server, thread, sock, f"http://{shown}:{bound}")
