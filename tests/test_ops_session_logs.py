"""The session-end log line: its figures, the principal, and no legacy hardware id in clear
where that id is the session's only guard."""

from __future__ import annotations

import hashlib
import logging
import subprocess

import grpc
import pytest

from nexy_stream.logformat import FIELDS, TextFormatter
from nexy_stream.ops.logs import device_id_hash
from tests.auth_keys import authenticator, bearer
from tests.legacy_wire import LegacyClient, assert_answered, new_session_id
from tests.waiting import until
from tests.wire import RawSession, commit_frame

pytestmark = pytest.mark.anyio


async def ended_lines(caplog: pytest.LogCaptureFixture, count: int) -> list[dict[str, object]]:
    """The fields of the first ``count`` session-end records (a session's log line comes
    once its handler has cleaned up, just after the client saw its end)."""

    def found() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "nexy_stream.sessions"]

    await until(lambda: len(found()) >= count, f"{count} session-end lines are logged")
    return [getattr(record, FIELDS) for record in found()]


async def test_the_line_names_the_principal_and_hides_an_unguarded_hardware_id(
    start, tmp_path, caplog
):
    caplog.set_level(logging.INFO, logger="nexy_stream.sessions")
    auth, alice, _ = authenticator(tmp_path)
    server = await start(authenticator=auth)
    async with grpc.aio.insecure_channel(server.target) as channel:
        stream = RawSession(channel, bearer(alice))
        await stream.open(device_id="alice-mac")
        await stream.send(commit_frame("v1"))
        await stream.drain()
        [v1] = await ended_lines(caplog, 1)
        assert_answered(await LegacyClient(channel, "hw-anon").commit(new_session_id(), "x"), "x")
        [_, anonymous] = await ended_lines(caplog, 2)
        with_token = LegacyClient(channel, "hw-alice", bearer(alice))
        assert_answered(await with_token.commit(new_session_id(), "y"), "y")
        [*_, legacy_alice] = await ended_lines(caplog, 3)
    assert (v1["device_id"], v1["principal"], v1["outcome"]) == ("alice-mac", "alice", "committed")
    assert "device_id" not in anonymous and "principal" not in anonymous
    assert anonymous["device_id_hash"] == hashlib.sha256(b"hw-anon").hexdigest()[:16]
    assert (legacy_alice["device_id"], legacy_alice["principal"]) == ("hw-alice", "alice")
    text = "\n".join(TextFormatter().format(record) for record in caplog.records)
    assert "hw-anon" not in text and alice not in text


def test_the_hash_is_what_the_shell_one_liner_in_the_docs_prints():
    shell = subprocess.run(
        ["sh", "-c", "printf %s 'MAC-1234 x' | sha256sum | cut -c1-16"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert device_id_hash("MAC-1234 x") == shell.stdout.strip()
