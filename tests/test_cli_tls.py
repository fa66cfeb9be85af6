"""Every client command reaches a TLS server the same way (``--ca``, ``--cert``/``--key``),
and the admin port of a TLS server is TLS too. Run as a user runs them: a process each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nexy_stream.app.config import TlsFiles
from nexy_stream.cli import main
from nexy_stream.ops.config import OpsConfig
from tests.cli import nexy_stream

pytestmark = pytest.mark.anyio

TLS = Path(__file__).resolve().parent / "tls"  # self-signed for localhost and 127.0.0.1
CERT, KEY = str(TLS / "localhost.pem"), str(TLS / "localhost.key")
# The test certificate doubles as the client CA and the client's own certificate.
MUTUAL = TlsFiles(Path(CERT), Path(KEY), client_ca_file=Path(CERT))
WITH_CERTIFICATE = ("--ca", CERT, "--cert", CERT, "--key", KEY)


async def run(*args: str) -> tuple[int, str, str]:
    """Runs the command to its end: exit code, stdout, stderr."""
    done = await nexy_stream(*args)
    return done.code, done.out, done.err


async def test_say_over_tls(start):
    target = (await start(tls=TlsFiles(Path(CERT), Path(KEY)))).target
    code, out, err = await run("say", "hello", "--target", target, "--ca", CERT)
    assert code == 0 and "committed: 'hello'" in out, err

    code, _, err = await run("say", "hello", "--target", target)  # plaintext
    assert code == 1 and "UNAVAILABLE" in err


async def test_say_and_load_present_a_client_certificate_for_mutual_tls(start):
    target = (await start(tls=MUTUAL)).target
    code, out, _ = await run("say", "hi", "--target", target, *WITH_CERTIFICATE)
    assert code == 0 and "committed: 'hi'" in out

    code, _, err = await run("say", "hi", "--target", target, "--ca", CERT)
    assert code == 1 and "UNAVAILABLE" in err

    load = ("load", "--target", target, "--sessions", "4", "--concurrency", "2")
    code, out, _ = await run(*load, "--pace", "0", "--json", *WITH_CERTIFICATE)
    report = json.loads(out)
    assert code == 0 and report["invariants_held"] and report["sessions_finished"] == 4


async def test_the_admin_port_of_a_tls_server_is_tls_and_tail_reaches_it(start):
    server = await start(tls=MUTUAL, ops=OpsConfig(admin_port=0))
    admin = server.ops.admin_target
    assert admin is not None
    tail = ("tail", "--target", admin, "--json", "--duration", "1")

    code, out, _ = await run(*tail, *WITH_CERTIFICATE)
    assert code == 0 and "snapshot" in json.loads(out.splitlines()[0])

    for refused in ((), ("--ca", CERT)):  # plaintext; TLS without a client certificate
        code, _, err = await run(*tail, *refused)
        assert code == 1 and f"cannot watch {admin}: UNAVAILABLE" in err


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (("--cert", CERT), "--cert and --key go together"),
        (("--ca", "/nonexistent/ca.pem"), "--ca /nonexistent/ca.pem: No such file"),
        (("--ca", KEY), f"--ca {KEY}: no PEM certificate in it"),
        (("--cert", CERT, "--key", CERT), f"--key {CERT}: not the PEM private key of --cert"),
    ],
)
def test_bad_tls_flags_are_named(flags, said, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["say", "hello", "--target", "127.0.0.1:9", *flags])
    assert exited.value.code == 2
    assert said in capsys.readouterr().err
