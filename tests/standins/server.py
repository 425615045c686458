"""One way to run an in-process HTTP stand-in: a free localhost port, a quick shutdown."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

S = TypeVar("S")


@contextmanager
def serve(state: S, handler: type[BaseHTTPRequestHandler]) -> Iterator[S]:
    """Serve ``handler`` (which reads ``self.state``) for the block; ``state.url`` is its base URL."""
    bound = type("Handler", (handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), bound)
    server.daemon_threads = True
    state_any: Any = state
    state_any.url = f"http://127.0.0.1:{server.server_address[1]}"
    # A short poll interval, so that shutting down does not wait half a second per test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
