"""The loopback HTTP server: ``Simulator`` and its request handler.

``with Simulator(config) as sim:`` serves on ``127.0.0.1:<free port>`` from a
background thread. ``POST /v1/messages`` speaks Anthropic, ``POST
/v1/chat/completions`` OpenAI; ``GET /_sim/stats`` returns the counters and
``POST /_sim/reset`` clears them. Only loopback addresses are served: the
simulator accepts fake keys and must never face a network.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from lanectl.errors import LaneError
from lanectl.sim import anthropic_api as ant
from lanectl.sim import openai_api as oai
from lanectl.sim.config import SimConfig, Vendor
from lanectl.sim.engine import Admitted, Answer, Clock, Engine

MAX_BODY = 32 * 1024 * 1024  # the Messages API's own limit (413 request_too_large above it)
ROUTES: dict[str, Vendor] = {"/v1/messages": "anthropic", "/v1/chat/completions": "openai"}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    engine: Engine
    connections: set[socket.socket]
    conn_lock: threading.Lock

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (idle keep-alive, an aborted stream) is not an error."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class Simulator:
    """A vendor simulator on loopback; see the package docstring for the API."""

    def __init__(self, config: SimConfig | None = None, *, host: str = "127.0.0.1", port: int = 0):
        if not is_loopback(host):
            raise LaneError(
                f"refusing to serve on {host}: the simulator accepts fake keys and listens "
                "only on loopback (use 127.0.0.1, ::1 or localhost)"
            )
        self.config = config if config is not None else SimConfig.default()
        self.host = host
        self.port = port
        self.engine = Engine(self.config)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------

    def start(self) -> Simulator:
        if self._server is not None:
            return self
        cls = _Server6 if ":" in self.host else _Server
        host = "127.0.0.1" if self.host == "localhost" else self.host.strip("[]")
        try:
            server = cls((host, self.port), _Handler)
        except OSError as exc:
            raise LaneError(
                f"cannot listen on {host}:{self.port}: {exc.strerror}",
                hint="pick another port with --port N, or --port 0 for any free one",
            ) from None
        server.engine = self.engine
        server.connections = set()
        server.conn_lock = threading.Lock()
        self._server = server
        self.port = server.server_address[1]
        self.engine.clock = Clock(self.config.time_scale)  # time starts now
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name=f"lanectl-sim-{self.port}",
        )  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with server.conn_lock:
            for conn in list(server.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- where and what ---------------------------------------------------

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host == "localhost" else self.host.strip("[]")
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def anthropic_url(self) -> str:
        """For ``Anthropic(base_url=...)`` and ANTHROPIC_BASE_URL: no ``/v1``."""
        return self.url

    @property
    def openai_url(self) -> str:
        """For ``OpenAI(base_url=...)`` and OPENAI_BASE_URL: with ``/v1``."""
        return self.url + "/v1"

    @property
    def time_scale(self) -> float:
        return self.config.time_scale

    def now(self) -> float:
        """Simulated seconds since the simulator started."""
        return self.engine.clock.now()

    def stats(self) -> dict[str, Any]:
        return self.engine.snapshot()

    def reset_stats(self) -> None:
        from lanectl.sim.stats import Stats

        with self.engine.lock:
            self.engine.stats = Stats()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lanectl-sim"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection is closed after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body are separate writes: without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every reply.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.conn_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.conn_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing ---------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    # -- routes -----------------------------------------------------------

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/_sim/stats":
            self._json(200, self.server.engine.snapshot())
        else:
            self._json(404, {"error": {"message": f"no route GET {path}", "type": "not_found"}})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        length = int(self.headers.get("content-length") or 0)
        vendor = ROUTES.get(path)
        if path == "/_sim/reset":
            self.rfile.read(length)
            from lanectl.sim.stats import Stats

            with self.server.engine.lock:
                self.server.engine.stats = Stats()
            self._json(200, {"ok": True})
            return
        if vendor is None:
            self.rfile.read(length)
            self._json(404, ant.error("not_found_error", f"Not found: POST {path}", "req_none"))
            return
        if length > MAX_BODY:
            self.close_connection = True
            body = ant.error("request_too_large", "Request exceeds the maximum size", "req_none")
            if vendor == "openai":
                body = oai.error("Request too large", "invalid_request_error", None)
            self._json(413, body)
            return
        raw = self.rfile.read(length)
        decision = self.server.engine.decide(vendor, self._headers(), raw)
        if isinstance(decision, Answer):
            self._json(decision.status, decision.body, decision.headers)
        elif decision.req.stream:
            self._stream(decision)
        else:
            self._reply(decision)

    def _reply(self, adm: Admitted) -> None:
        engine = self.server.engine
        engine.clock.sleep((adm.latency_ms + adm.per_token_ms * adm.reply.output_tokens) / 1000)
        if adm.fail_overloaded:
            answer = engine.overloaded_after_admission(adm)
            self._json(answer.status, answer.body, answer.headers)
            return
        fresh = engine.settle(adm, adm.reply.output_tokens, 200, "ok")
        if adm.req.vendor == "anthropic":
            body = ant.message(adm.reply, adm.req, adm.input_tokens, adm.body_id)
        else:
            body = oai.completion(adm.reply, adm.req, adm.input_tokens, adm.body_id)
        self._json(200, body, {**adm.headers, **fresh})

    def _stream(self, adm: Admitted) -> None:
        engine, vendor = self.server.engine, adm.req.vendor
        build = ant.frames if vendor == "anthropic" else oai.frames
        frames = build(adm.reply, adm.req, adm.input_tokens, adm.body_id)
        cut = len(frames)
        if adm.break_after is not None:
            target = max(1, adm.break_after)
            reached = [i for i, (_, tokens) in enumerate(frames) if tokens >= target]
            cut = max(1, min(reached[0] if reached else len(frames), len(frames) - 3)) + 1
        produced, status, outcome = 0, 200, "ok"
        try:
            engine.clock.sleep(adm.latency_ms / 1000)
            self.send_response(200)
            self.send_header("content-type", "text/event-stream; charset=utf-8")
            self.send_header("cache-control", "no-cache")
            self.send_header("transfer-encoding", "chunked")
            for name, value in adm.headers.items():
                self.send_header(name, value)
            self.end_headers()
            for data, tokens in frames[:cut]:
                engine.clock.sleep(adm.per_token_ms * max(0, tokens - produced) / 1000)
                produced = max(produced, tokens)
                self._chunk(data)
            if cut < len(frames):
                outcome = "stream_error"
                self._chunk(
                    ant.stream_error(adm.request_id)
                    if vendor == "anthropic"
                    else oai.stream_error()
                )
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            outcome = "aborted"
            self.close_connection = True
        finally:
            engine.settle(adm, produced, status, outcome)
