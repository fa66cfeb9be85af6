"""`nexy-stream serve` as `make run` starts it: a real process, configured by flags and env;
every bad flag is one line naming it, never a traceback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from nexy_stream.cli import main
from tests.cli import Done, nexy_stream
from tests.processes import serving
from tests.wire import RawSession, commit_frame

pytestmark = pytest.mark.anyio

TLS = Path(__file__).resolve().parent / "tls"
CERT, KEY = str(TLS / "localhost.pem"), str(TLS / "localhost.key")
NOT_PEM = str(Path(__file__).resolve())  # a readable file that holds no certificate or key


def assert_one_line_error(result: Done, *said: str) -> None:
    assert result.code == 2, result.err
    assert result.out == ""
    assert result.err.startswith("nexy-stream serve: error: ")
    assert result.err.count("\n") == 1, result.err  # one line, no traceback
    for words in said:
        assert words in result.err


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


async def test_serve_answers_and_stops_cleanly_on_sigterm():
    env = {"NEXY_STREAM_IDLE_TIMEOUT": "7"}
    async with serving("--max-text-bytes", "40", env=env) as (served, target):
        async with grpc.aio.insecure_channel(target) as channel:
            session = RawSession(channel)
            accepted = await session.open()
            assert accepted.limits.max_text_bytes == 40  # from the flag
            assert accepted.limits.idle_timeout.seconds == 7  # from the environment
            assert accepted.pipeline == "echo"
            await session.send(commit_frame("from a process"))
            assert (await session.drain()).text == "from a process"
        assert await served.stopped() == 0


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (("--port", "70000"), "argument --port: 70000 is not a port number (0 to 65535)"),
        (("--port", "-1"), "argument --port: -1 is not a port number"),
        (("--port", "fifty"), "argument --port: 'fifty' is not a whole number"),
        (("--host", ""), "argument --host: an address is needed"),
        (("--log-level", "foo"), "argument --log-level: 'foo' is not one of DEBUG, INFO"),
        (("--log-format", "xml"), "argument --log-format: 'xml' is not one of text, json"),
        (("--metrics-port", "99999"), "argument --metrics-port: 99999 is not a port number"),
        (("--admin-port", "65536"), "argument --admin-port: 65536 is not a port number"),
        (("--shutdown-grace", "-1"), "argument --shutdown-grace: must not be negative, got -1"),
        (("--max-live-sessions", "0"), "argument --max-live-sessions: must be positive, got 0"),
        (("--max-text-bytes", "-5"), "argument --max-text-bytes: must be positive, got -5"),
        (("--max-chunks", "0"), "argument --max-chunks: must be positive"),
        (("--max-screenshot-bytes", "0"), "argument --max-screenshot-bytes: must be positive"),
        (("--idle-timeout", "0"), "argument --idle-timeout: must be positive, got 0"),
        (("--max-duration", "nan"), "argument --max-duration: 'nan' is not a number"),
        (
            ("--max-frame-bytes", "10"),
            "--max-frame-bytes 10 must exceed --max-screenshot-bytes 8388608",
        ),
        (("--tls-cert", CERT), "--tls-cert and --tls-key go together"),
        (
            ("--tls-cert", "/nonexistent.pem", "--tls-key", KEY),
            "--tls-cert /nonexistent.pem: No such",
        ),
        (("--tls-cert", NOT_PEM, "--tls-key", KEY), f"--tls-cert {NOT_PEM}: no PEM certificate"),
        (
            ("--tls-cert", CERT, "--tls-key", NOT_PEM),
            f"--tls-key {NOT_PEM}: not the PEM private key of --tls-cert {CERT}",
        ),
        (
            ("--tls-cert", CERT, "--tls-key", KEY, "--tls-client-ca", NOT_PEM),
            f"--tls-client-ca {NOT_PEM}: no PEM certificate",
        ),
        (
            ("--host", "nosuch.invalid", "--insecure-no-auth"),
            "--host nosuch.invalid --port 0: 'nosuch.invalid' does not",
        ),
        # TEST-NET-1: an address, but not this machine's.
        (
            ("--host", "192.0.2.1", "--insecure-no-auth"),
            "--host 192.0.2.1 --port 0: cannot listen on 192.0.2.1:0",
        ),
    ],
)
def test_a_bad_flag_is_one_line_that_names_it(flags, said, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--port", "0", *flags])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("nexy-stream serve: error: ") and err.count("\n") == 1, err
    assert said in err


def test_ports_in_use_are_named_by_their_flags(busy_port, capsys):
    for flag, host_flag in (
        ("--port", "--host"),
        ("--metrics-port", "--metrics-host"),
        ("--admin-port", "--admin-host"),
    ):
        with pytest.raises(SystemExit) as exited:
            main(["serve", "--port", "0", flag, str(busy_port)])
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert err == (
            f"nexy-stream serve: error: {host_flag} 127.0.0.1 {flag} {busy_port}: "
            f"cannot listen on 127.0.0.1:{busy_port}: Address already in use\n"
        )


async def test_the_process_ends_with_one_line_and_exit_2(busy_port):
    """As a process: exit status 2 and one line on stderr, no traceback, nothing started."""
    busy = await nexy_stream("serve", "--port", str(busy_port))
    assert_one_line_error(busy, f"--port {busy_port}")
    assert_one_line_error(await nexy_stream("serve", "--port", "70000"), "--port")
    bad_host = await nexy_stream("serve", "--host", "nosuch.invalid", "--insecure-no-auth")
    assert_one_line_error(bad_host, "--host nosuch.invalid")
    bad_cert = await nexy_stream("serve", "--tls-cert", NOT_PEM, "--tls-key", KEY)
    assert_one_line_error(bad_cert, f"--tls-cert {NOT_PEM}")


async def test_a_bad_environment_value_names_the_variable():
    assert_one_line_error(
        await nexy_stream("serve", env={"NEXY_STREAM_PORT": "fifty"}),
        "NEXY_STREAM_PORT (for --port): 'fifty' is not a whole number",
    )
    assert_one_line_error(
        await nexy_stream("serve", "--port", "0", env={"NEXY_STREAM_MAX_LIVE_SESSIONS": "0"}),
        "NEXY_STREAM_MAX_LIVE_SESSIONS (for --max-live-sessions): must be positive, got 0",
    )


def test_a_flag_wins_over_a_bad_environment_value(monkeypatch, capsys):
    # The variable is never converted when the flag is given, so the next check speaks.
    monkeypatch.setenv("NEXY_STREAM_PORT", "fifty")
    with pytest.raises(SystemExit):
        main(["serve", "--port", "0", "--host", "nosuch.invalid", "--insecure-no-auth"])
    assert "--host nosuch.invalid --port 0: 'nosuch.invalid' does not" in capsys.readouterr().err
