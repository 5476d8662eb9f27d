"""The emulator's HTTPS server: Entra's discovery and token endpoints plus Graph v1.0.

A Starlette app on uvicorn in a daemon thread, bound to 127.0.0.1 on a pre-bound socket (port
0 = any free port), TLS from ``certs.make_tls_files``. ``start()`` returns once the server
accepts connections. Every request is logged, token and Graph alike, each ``$batch`` item
included, so a test can prove the client only ever sends GETs.
"""

from __future__ import annotations

import logging
import re
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, overload
from urllib.parse import unquote_plus

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from audit.emulator._batch import BatchItem, parse_batch, run_batch
from audit.emulator._errors import GraphError, graph_error_body, method_not_allowed
from audit.emulator._faults import FaultEngine
from audit.emulator._graph import JSON_TYPE, GraphReply, GraphService, black_hole, error_reply
from audit.emulator._identity import IdentityReply, discovery, find_tenant, parse_form, token
from audit.emulator.certs import TlsFiles, make_tls_files
from audit.emulator.estate import Estate

__all__ = ["EmulatorServer", "LoggedRequest", "RequestLog"]

_DISCOVERY = re.compile(r"^/([^/]+)/v2\.0/\.well-known/openid-configuration/?$", re.IGNORECASE)
_TOKEN = re.compile(r"^/([^/]+)/oauth2/v2\.0/token/?$", re.IGNORECASE)
_GRAPH = re.compile(r"^/(v1\.0|beta)(/.*)?$", re.IGNORECASE)
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_START_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str                 # e.g. "/v1.0/users" or "/{tenant}/oauth2/v2.0/token"
    query: str                # the query string, percent-decoded ("" when none)
    tenant_id: str | None     # the token's tenant for Graph, the authority's tenant for Entra
    status: int               # 0 when the connection was dropped on purpose (reset fault)
    in_batch: bool


class RequestLog(Sequence[LoggedRequest]):
    """Append-only log shared by the server thread and the test thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[LoggedRequest] = []

    def append(self, item: LoggedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def snapshot(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @overload
    def __getitem__(self, index: int) -> LoggedRequest: ...
    @overload
    def __getitem__(self, index: slice) -> list[LoggedRequest]: ...

    def __getitem__(self, index: int | slice) -> LoggedRequest | list[LoggedRequest]:
        with self._lock:
            return self._items[index]

    def __iter__(self) -> Iterator[LoggedRequest]:
        return iter(self.snapshot())


class _DroppedConnection(Exception):
    """Raised after a partial response: uvicorn then closes the socket mid-body."""


class _DropFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _DroppedConnection)


_DROP_FILTER = _DropFilter()


class EmulatorServer:
    """Serves ``estate`` over HTTPS until stopped. ``estate`` stays live: edit it between runs."""

    def __init__(self, estate: Estate, tls_dir: Path, *, host: str = "127.0.0.1", port: int = 0,
                 seed: int = 0) -> None:
        self.estate = estate
        self.tls_dir = Path(tls_dir)
        self.request_log = RequestLog()
        self._host, self._port, self._seed = host, port, seed
        self._tls: TlsFiles | None = None
        self._server: _UvicornServer | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._bound_port: int | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> EmulatorServer:
        if self._thread is not None:
            return self
        self._tls = make_tls_files(self.tls_dir)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit TCP_NODELAY on Linux. Without it every small response (headers
        # and body are two TLS writes) waits ~40 ms for a delayed ACK: 47 ms vs 3 ms measured.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self._host, self._port))
        sock.listen(128)
        self._socket, self._bound_port = sock, sock.getsockname()[1]
        handler = _Handler(self)
        app = Starlette(routes=[Route("/{path:path}", handler.dispatch, methods=_ALL_METHODS)])
        config = uvicorn.Config(
            app, ssl_certfile=str(self._tls.cert_file), ssl_keyfile=str(self._tls.key_file),
            # log_config=None: leave the host application's logging configuration alone.
            log_config=None, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2,
        )
        self._server = _UvicornServer(config)
        # Idempotent, and never removed: another emulator in the process may still be dropping.
        logging.getLogger("uvicorn.error").addFilter(_DROP_FILTER)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"graph-emulator-{self._bound_port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the Graph emulator did not start")
            time.sleep(0.01)
        return self

    def stopping(self) -> bool:
        return self._server is None or self._server.should_exit

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError("the emulator is not started")
        return self._bound_port

    @property
    def authority_host(self) -> str:
        return f"https://{self._host}:{self.port}"

    @property
    def graph_base(self) -> str:
        return f"{self.authority_host}/v1.0"

    @property
    def ca_file(self) -> Path:
        if self._tls is None:
            raise RuntimeError("the emulator is not started")
        return self._tls.ca_file


class _UvicornServer(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Clients keep idle keep-alive connections open, and a TLS close waits for the peer's
        # close_notify: abort them so stop() takes milliseconds, not the graceful timeout.
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        await super().shutdown(sockets)


class _Handler:
    """Per-server request handling; created in ``start()``, so nothing exists at import time."""

    def __init__(self, server: EmulatorServer) -> None:
        self._server = server
        self._secret = secrets.token_bytes(32)
        self._graph = GraphService(lambda: server.estate, root=server.authority_host, token_secret=self._secret,
                                   faults=FaultEngine(server._seed), stopping=server.stopping)

    def _log(self, method: str, path: str, query: str, tenant_id: str | None, status: int, in_batch: bool) -> None:
        # Decoded, so outer requests and $batch items read alike ("$filter=userType eq 'Guest'").
        entry = LoggedRequest(method, path, unquote_plus(query), tenant_id, status, in_batch)
        self._server.request_log.append(entry)

    async def dispatch(self, request: Request) -> Response | _AbortResponse:
        method, path, query = request.method, request.url.path, request.url.query
        graph = _GRAPH.match(path)
        if graph:
            return await self._graph_request(request, graph.group(1).lower(), graph.group(2) or "/")
        for pattern, kind in ((_DISCOVERY, "discovery"), (_TOKEN, "token")):
            match = pattern.match(path)
            if match is None:
                continue
            tenant = find_tenant(self._server.estate, match.group(1))
            if tenant is not None and tenant.faults.authority_hang:
                # A black-hole authority: the connection is accepted and never answered.
                self._log(method, path, query, tenant.tenant_id, 0, False)
                await black_hole(self._server.stopping)
                return _AbortResponse()
            allowed = "GET" if kind == "discovery" else "POST"
            if method != allowed:
                self._log(method, path, query, None, 405, False)
                return Response(status_code=405, headers={"Allow": allowed})
            reply: IdentityReply
            if kind == "discovery":
                reply = discovery(self._server.estate, self._server.authority_host, match.group(1))
            else:
                form = parse_form(await request.body())
                reply = token(self._server.estate, self._server.authority_host, match.group(1), form,
                              secret=self._secret, now=time.time())
            self._log(method, path, query, reply.tenant_id, reply.status, False)
            return _json(reply.status, reply.body, {"Cache-Control": "no-store, no-cache"})
        self._log(method, path, query, None, 404, False)
        return _json(404, {"error": "not_found", "error_description": f"No endpoint at {path}."})

    async def _graph_request(self, request: Request, version: str, rel_path: str) -> Response | _AbortResponse:
        method, query = request.method, request.url.query
        full_path = request.url.path
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            claims = self._graph.authenticate(headers.get("authorization"))
        except GraphError as error:
            self._log(method, full_path, query, None, error.status, False)
            reply = error_reply(error, request_id=str(uuid.uuid4()),
                                client_request_id=headers.get("client-request-id"))
            return _reply(reply)
        tenant_id = claims["tid"]
        if rel_path.rstrip("/").lower() == "/$batch":
            if method != "POST":
                reply = error_reply(method_not_allowed(), request_id=str(uuid.uuid4()), client_request_id=None)
                self._log(method, full_path, query, tenant_id, 405, False)
                return _reply(reply)
            return await self._batch(request, version, claims)
        reply = await self._graph.handle(method, version, rel_path, query, headers, claims, in_batch=False)
        self._log(method, full_path, query, tenant_id, reply.status, False)
        return _AbortResponse() if reply.drop else _reply(reply)

    async def _batch(self, request: Request, version: str, claims: dict[str, Any]) -> Response | _AbortResponse:
        tenant_id = claims["tid"]
        full_path = request.url.path
        if self._graph.drop_connection(tenant_id):
            self._log("POST", full_path, request.url.query, tenant_id, 0, False)
            return _AbortResponse()
        try:
            items = parse_batch(await request.body())
        except GraphError as error:
            self._log("POST", full_path, request.url.query, tenant_id, error.status, False)
            body = graph_error_body(error.code, error.message, request_id=str(uuid.uuid4()), client_request_id=None)
            return _json(error.status, body)

        def log(item: BatchItem, status: int) -> None:
            self._log(item.method, f"/{version}{item.path}", item.query, tenant_id, status, True)

        body = await run_batch(self._graph, version, items, claims, log)
        self._log("POST", full_path, request.url.query, tenant_id, 200, False)
        return _json(200, body)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    reply = GraphReply(status, body, headers or {})
    return Response(reply.encode(), status_code=status, headers=headers, media_type="application/json")


def _reply(reply: GraphReply) -> Response:
    headers = {k: v for k, v in reply.headers.items() if v}
    return Response(reply.encode(), status_code=reply.status, headers=headers, media_type=JSON_TYPE)


class _AbortResponse:
    """Headers and half a body, then the connection is closed: a transport-level failure.

    uvicorn cannot reset a socket from inside an ASGI app. Raising after the response has
    started makes it close the transport without finishing the body, which clients see as
    a dropped connection ("peer closed connection without sending complete message body").
    """

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"value":[', "more_body": True})
        raise _DroppedConnection("connection dropped by the emulator's reset fault")
