"""Real receivers for tests, benchmarks and drills: an HTTP webhook endpoint and an SMTP server.

Both listen on 127.0.0.1 in their own thread, so they answer whatever the test's event loop is
doing (a worker running activities, a time-skipping environment). Use them as context managers,
sync or async:

    async with WebhookReceiver() as hook, SmtpReceiver() as smtp:
        settings = Settings(webhook_url=hook.url, smtp_host=smtp.host, smtp_port=smtp.port, ...)
        ...
        await hook.wait_for(1)
        assert hook.requests[0].headers["idempotency-key"] == key
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from plumbing.processes import free_port


async def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


class _Receiver:
    """Start/stop plumbing shared by both receivers: sync and async context managers."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    async def astart(self) -> None:
        await asyncio.to_thread(self.start)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await self.astart()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()


# -- HTTP ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes  # the raw bytes, exactly as received (what a signature covers)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (client timeout tests)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5  # an idle keep-alive connection is dropped, so stop() never waits on it
    server: _HttpServer

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        body = self._read_body()
        received = ReceivedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        reply = self.server.receiver._record(received)
        if reply.delay:
            time.sleep(reply.delay)
        try:
            self.send_response(reply.status, HTTPStatus(reply.status).phrase)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up first (timeout tests)

    do_POST = do_PUT = do_PATCH = do_GET = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, receiver: WebhookReceiver) -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", 0), _Handler)


class WebhookReceiver(_Receiver):
    """An HTTP endpoint that records every request and answers as told (200 by default)."""

    def __init__(self, path: str = "/hook") -> None:
        self.path = path
        self.requests: list[ReceivedRequest] = []
        self._plan: list[Reply] = [Reply()]
        self._lock = threading.Lock()
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("WebhookReceiver is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"

    def respond_with(
        self,
        status: int,
        *then: int,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer the next requests with `status`, then each of `then`; the last one sticks."""
        replies = [
            Reply(
                s, body if body is not None else HTTPStatus(s).phrase.encode(), headers or {}, delay
            )
            for s in (status, *then)
        ]
        with self._lock:
            self._plan = replies

    def _record(self, request: ReceivedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            return self._plan.pop(0) if len(self._plan) > 1 else self._plan[0]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    async def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[ReceivedRequest]:
        await _wait(lambda: len(self.requests) >= count, timeout, f"{count} webhook request(s)")
        return list(self.requests)

    def start(self) -> None:
        if self._server is not None:
            return
        self._server = _HttpServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None


# -- SMTP ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    authenticated_as: str | None = None


class _SmtpHandler:
    def __init__(self, receiver: SmtpReceiver) -> None:
        self.receiver = receiver

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        reply = self.receiver._rcpt_reply
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        reply = self.receiver._data_reply
        if not reply.startswith("250"):
            return reply
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        self.receiver._record(
            ReceivedMail(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                message=message,
                raw=raw,
                authenticated_as=login.decode() if login else None,
            )
        )
        return reply


class SmtpReceiver(_Receiver):
    """An aiosmtpd server on 127.0.0.1 recording each accepted message.

    `auth={"user": "password"}` requires a login; `tls_context` offers STARTTLS
    (`require_starttls=True` insists on it).
    """

    def __init__(
        self,
        *,
        auth: dict[str, str] | None = None,
        tls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.mails: list[ReceivedMail] = []
        self._auth = auth
        self._tls_context = tls_context
        self._require_starttls = require_starttls
        self._data_reply = "250 OK"
        self._rcpt_reply = "250 OK"
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        return [mail.message for mail in self.mails]

    def respond_with(self, data_reply: str = "250 OK", *, rcpt_reply: str = "250 OK") -> None:
        """SMTP replies to DATA and to each RCPT, e.g. "550 5.7.1 rejected", "451 4.3.0 later"."""
        self._data_reply = data_reply
        self._rcpt_reply = rcpt_reply

    def _record(self, mail: ReceivedMail) -> None:
        with self._lock:
            self.mails.append(mail)

    def clear(self) -> None:
        with self._lock:
            self.mails.clear()

    async def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        await _wait(lambda: len(self.mails) >= count, timeout, f"{count} email(s)")
        return self.messages

    def _authenticate(
        self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        users = self._auth or {}
        ok = (
            isinstance(data, LoginPassword)
            and users.get(data.login.decode()) == data.password.decode()
        )
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    def start(self) -> None:
        if self._controller is not None:
            return
        self.port = free_port(self.host)
        kwargs: dict[str, Any] = {}
        if self._auth is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        if self._tls_context is not None:
            kwargs.update(tls_context=self._tls_context, require_starttls=self._require_starttls)
        self._controller = Controller(
            _SmtpHandler(self), hostname=self.host, port=self.port, **kwargs
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is None:
            return
        self._controller.stop()
        self._controller = None
