"""A local stand-in for an OpenAI-compatible API, speaking the real HTTP protocols.

``POST /v1/chat/completions`` with ``stream: true`` answers with server-sent events (one
``data:`` line per chunk, then ``data: [DONE]``); ``POST /v1/audio/speech`` streams raw PCM
(24 kHz mono s16le). HTTP/1.1 with chunked bodies and keep-alive, as the hosted APIs send.
Every request is recorded, and so is every client that goes away before its answer is
complete, the moment it does (a waiting stub polls its socket), so tests can check that a
cancelled session closes its upstream requests at once.

Run alone for the benchmarks: ``python -m tests.openai_stub --first-token-delay 0.15``
prints ``listening on http://127.0.0.1:PORT/v1`` and serves until killed.
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nexy_stream.pipeline import Pipeline

PCM_RATE_HZ = 24_000
_POLL_S = 0.005
_PATTERN = bytes(range(251)) * 1024


class ClientGone(Exception):
    """The client closed its connection while the stub was still answering."""


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]


@dataclass
class Behaviour:
    """What the stub answers; tests change it before a request."""

    answer: list[str] = field(default_factory=lambda: ["Hello there, friend.", " How", " are you?"])
    first_token_delay_s: float = 0.0
    token_interval_s: float = 0.0
    chat_errors: list[int] = field(default_factory=list)  # statuses of the next requests
    chat_hold_after: int | None = None  # chunks sent before the chat stream waits for release
    speech_errors: list[int] = field(default_factory=list)
    speech_first_byte_delay_s: float = 0.0
    speech_bytes_per_char: int = 480  # 10 ms of 24 kHz audio per character of input
    speech_chunk_bytes: int = 4800
    speech_hold_after: int | None = None  # chunks sent before the speech stream waits
    speech_total_bytes: int | None = None  # overrides bytes_per_char (a long answer)


class OpenAIStub:
    """The stub server on 127.0.0.1, an ephemeral port, in threads of its own."""

    def __init__(self) -> None:
        self.behaviour = Behaviour()
        self.requests: list[Recorded] = []
        self.disconnects: list[tuple[str, float]] = []  # (path, time.monotonic())
        self.disconnected = threading.Event()
        self.release = threading.Event()  # ends every hold
        self.speech_bytes_sent = 0
        # Set once a speech chunk finds the connection full: its reader holds the stub back.
        self.speech_held_back = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> OpenAIStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]

    def _record(self, recorded: Recorded) -> None:
        with self._lock:
            self.requests.append(recorded)

    def _gone(self, path: str) -> None:
        with self._lock:
            self.disconnects.append((path, time.monotonic()))
        self.disconnected.set()


def openai_pipeline(stub: OpenAIStub, **settings: Any) -> Pipeline:
    """The ``openai`` pipeline pointed at ``stub``, with these settings changed."""
    from nexy_stream.pipeline.registry import build, load

    values = {
        "llm_base_url": stub.base_url,
        "llm_model": "stub-llm",
        "llm_api_key": "sk-test",
        "tts_model": "stub-tts",
        "upstream_retries": 0,
        **settings,
    }
    return build(load("openai"), values)


@contextmanager
def running_stub() -> Iterator[OpenAIStub]:
    stub = OpenAIStub().start()
    try:
        yield stub
    finally:
        stub.stop()


def _handler(stub: OpenAIStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            headers = {name.lower(): value for name, value in self.headers.items()}
            stub._record(Recorded(self.path, headers, body))
            try:
                if self.path == "/v1/chat/completions":
                    self._chat(body)
                elif self.path == "/v1/audio/speech":
                    self._speech(body)
                else:
                    self.send_error(404, f"no route {self.path}")
            except (ClientGone, BrokenPipeError, ConnectionResetError):
                stub._gone(self.path)
                self.close_connection = True

        def _chat(self, body: dict[str, Any]) -> None:
            b = stub.behaviour
            if self._told_to_fail(b.chat_errors):
                return
            self._start_stream("text/event-stream")
            self._wait(b.first_token_delay_s)
            model = body.get("model", "")
            role = {"role": "assistant", "content": ""}
            self._chunk(_sse(_completion_chunk(model, role, None)))
            for index, text in enumerate(b.answer):
                if index:
                    self._wait(b.token_interval_s)
                self._chunk(_sse(_completion_chunk(model, {"content": text}, None)))
                if b.chat_hold_after == index + 1:
                    self._hold()
            self._chunk(_sse(_completion_chunk(model, {}, "stop")))
            self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")

        def _speech(self, body: dict[str, Any]) -> None:
            b = stub.behaviour
            if self._told_to_fail(b.speech_errors):
                return
            total = b.speech_total_bytes
            if total is None:
                total = b.speech_bytes_per_char * len(str(body.get("input", "")))
            self._start_stream("audio/pcm")
            self._wait(b.speech_first_byte_delay_s)
            sent, index = 0, 0
            while sent < total:
                size = min(b.speech_chunk_bytes, total - sent)
                if not self._writable():
                    stub.speech_held_back.set()
                self._chunk(_pcm(sent, size))
                sent += size
                index += 1
                with stub._lock:
                    stub.speech_bytes_sent += size
                if b.speech_hold_after == index:
                    self._hold()
            self._chunk(b"")

        def _start_stream(self, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def _writable(self) -> bool:
            """Whether the connection takes more now (the kernel says no while half its
            send buffer waits for a reader that does not read)."""
            _, writable, _ = select.select([], [self.connection], [], 0)
            return bool(writable)

        def _told_to_fail(self, errors: list[int]) -> bool:
            with stub._lock:
                status = errors.pop(0) if errors else None
            if status is None:
                return False
            message = f"the stub was told to answer {status}"
            payload = json.dumps(
                {"error": {"message": message, "type": "stub_error", "code": None}}
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return True

        def _wait(self, seconds: float) -> None:
            """Sleeps, noticing at once a client that closes its connection meanwhile."""
            until = time.monotonic() + seconds
            while (left := until - time.monotonic()) > 0:
                self._check_gone(min(left, _POLL_S * 20))

        def _hold(self) -> None:
            while not stub.release.is_set():
                self._check_gone(_POLL_S)

        def _check_gone(self, timeout_s: float) -> None:
            readable, _, _ = select.select([self.connection], [], [], timeout_s)
            if readable:  # a client that waits for its answer sends nothing: this is EOF
                try:
                    peeked = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    peeked = b""
                if not peeked:
                    raise ClientGone

    return Handler


def _completion_chunk(model: str, delta: dict[str, str], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _pcm(offset: int, size: int) -> bytes:
    """Audio bytes whose value depends on their position, so a lost piece would show."""
    start = offset % 251
    assert start + size <= len(_PATTERN), "speech_chunk_bytes is too large"
    return _PATTERN[start : start + size]


def main() -> None:
    parser = argparse.ArgumentParser(description="an OpenAI-compatible stub on loopback")
    parser.add_argument("--first-token-delay", type=float, default=0.15)
    parser.add_argument("--token-interval", type=float, default=0.02)
    args = parser.parse_args()
    stub = OpenAIStub()
    stub.behaviour.first_token_delay_s = args.first_token_delay
    stub.behaviour.token_interval_s = args.token_interval
    print(f"listening on {stub.base_url}", flush=True)
    stub.start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
