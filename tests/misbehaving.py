"""Portals that misbehave on the wire, served on loopback: trickling, endless, not JSON, down."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CODE = "t0pS3cretC0de"


def webhook_for(port: int) -> str:
    return f"http://127.0.0.1:{port}/rest/1/{CODE}/"


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port nothing listens on (connections to it are refused).

    The port stays bound (without listening) while in use, so no other process on this
    busy machine can start serving on it meanwhile.
    """
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


class MisbehavingPortal:
    """Answers every request the same wrong way; counts requests and bytes sent.

    `answer(handler)` writes the whole reply; it may run until the client hangs up.
    """

    def __init__(self, answer: Callable[[BaseHTTPRequestHandler, MisbehavingPortal], None]):
        self.answer = answer
        self.requests = 0
        self.bytes_sent = 0
        self.open_answers = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.all_answers_ended = threading.Condition(self.lock)
        portal = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with portal.lock:
                    portal.requests += 1
                    portal.open_answers += 1
                try:
                    portal.answer(self, portal)
                except OSError:  # the client hung up: what a well-behaved client does here
                    self.close_connection = True
                finally:
                    with portal.lock:
                        portal.open_answers -= 1
                        portal.all_answers_ended.notify_all()

            def log_message(self, format: str, *args: object) -> None:
                return

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: object, client_address: object) -> None:
                return

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def webhook_url(self) -> str:
        return webhook_for(self._server.server_address[1])

    def write(self, handler: BaseHTTPRequestHandler, data: bytes) -> None:
        handler.wfile.write(data)
        handler.wfile.flush()
        with self.lock:
            self.bytes_sent += len(data)

    def wait_until_answers_end(self, timeout: float = 30.0) -> bool:
        """True once no answer is being sent any more (every client hung up or was served)."""
        with self.lock:
            return self.all_answers_ended.wait_for(lambda: self.open_answers == 0, timeout)

    def __enter__(self) -> MisbehavingPortal:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def headers(handler: BaseHTTPRequestHandler, content_type: str, length: int | None) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", content_type)
    if length is None:
        handler.send_header("Connection", "close")  # the body ends when the connection does
        handler.close_connection = True
    else:
        handler.send_header("Content-Length", str(length))
    handler.end_headers()


def trickle(every: float, *, most: int = 100) -> Callable:
    """Headers at once, then one byte of a JSON answer every `every` seconds.

    It would go on for 10**6 bytes; after `most` of them it hangs up instead, so a
    client that fails to stop on its own fails its test rather than hanging it.
    """
    def answer(handler: BaseHTTPRequestHandler, portal: MisbehavingPortal) -> None:
        headers(handler, "application/json", 10**6)
        portal.write(handler, b'{"result": [')
        for _ in range(most):
            if portal.stopping.wait(every):
                break
            portal.write(handler, b" ")
        handler.close_connection = True
    return answer


def endless(most: int = 2**30) -> Callable:
    """A JSON list that never ends (no Content-Length: it would end with the connection).

    After `most` bytes (1 GB) it hangs up, so a client without a cap fails its test on
    memory rather than hanging it.
    """
    row = b'{"ID": "1", "NAME": "' + b"x" * 200 + b'"},'
    chunk = row * (65536 // len(row))

    def answer(handler: BaseHTTPRequestHandler, portal: MisbehavingPortal) -> None:
        headers(handler, "application/json", None)
        portal.write(handler, b'{"result": [')
        sent = 0
        while sent < most and not portal.stopping.is_set():
            portal.write(handler, chunk)
            sent += len(chunk)
    return answer


def fixed(content_type: str, body: bytes) -> Callable:
    """The same complete answer to every request."""
    def answer(handler: BaseHTTPRequestHandler, portal: MisbehavingPortal) -> None:
        headers(handler, content_type, len(body))
        portal.write(handler, body)
    return answer


def gzipped(body: bytes) -> Callable:
    """The answer compressed with gzip, as a front end (nginx `gzip on`) sends JSON to a
    client whose Accept-Encoding allows it (requests' does)."""
    import gzip

    packed = gzip.compress(body)

    def answer(handler: BaseHTTPRequestHandler, portal: MisbehavingPortal) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(packed)))
        handler.end_headers()
        portal.write(handler, packed)
    return answer


HTML_PAGE = fixed("text/html; charset=utf-8",
                  b"<!DOCTYPE html><html><body><h1>Please log in</h1></body></html>")
BROKEN_JSON = fixed("application/json", b'{"result": [{"ID": "1", "NAME": "Mo')
