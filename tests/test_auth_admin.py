"""The admin feed with authentication on, and the client tools that carry a token, against
the real server on loopback."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import grpc
import pytest

from nexy_stream.app.server import RunningServer
from nexy_stream.auth.tokens import new_token
from nexy_stream.cli import main
from nexy_stream.client import Client
from nexy_stream.loadgen import SMALL, LoadPlan, run_load
from nexy_stream.ops.config import OpsConfig
from tests.auth_keys import Issuer, authenticator, bearer
from tests.ops_client import next_event, watch
from tests.threaded import serve_on_a_thread

pytestmark = pytest.mark.anyio

NEXY_STREAM = str(Path(sys.executable).parent / "nexy-stream")


async def first_event_or_error(channel: grpc.aio.Channel, metadata: Any) -> Any:
    call = watch(channel, metadata)
    try:
        return (await next_event(call)).WhichOneof("kind")
    except grpc.aio.AioRpcError as error:
        return error.code(), error.details()
    finally:
        call.cancel()


@pytest.mark.parametrize("own_port", [False, True], ids=["public-port", "admin-port"])
async def test_only_an_admin_credential_may_watch(start, tmp_path, caplog, own_port):
    caplog.set_level(logging.DEBUG)
    issuer = Issuer(tmp_path)
    auth, user, admin = authenticator(tmp_path, issuer)
    ops = OpsConfig(admin_port=0 if own_port else None)
    server = await start(authenticator=auth, ops=ops)
    target = server.ops.admin_target or server.target
    jwts = {
        "user_jwt": issuer.token("carol"),
        "admin_jwt": issuer.token("ops", scope="nexy:admin"),
        "expired_admin_jwt": issuer.token("ops", scope="nexy:admin", lifetime_s=-3600),
    }
    unknown = new_token()
    async with grpc.aio.insecure_channel(target) as channel:
        seen = {
            name: await first_event_or_error(channel, metadata)
            for name, metadata in {
                "none": (),
                "user": bearer(user),
                "admin": bearer(admin),
                "unknown": bearer(unknown),
                "no_scheme": (("authorization", admin),),
                **{name: bearer(token) for name, token in jwts.items()},
            }.items()
        }
    unauthenticated, denied = grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED
    assert seen == {
        "none": (
            unauthenticated,
            "no credential: send the metadata `authorization: Bearer <token>`",
        ),
        "user": (denied, "principal 'alice' is not an admin; this needs an admin credential"),
        "admin": "snapshot",
        "unknown": (unauthenticated, "unknown token: no credential of this server matches it"),
        "no_scheme": (unauthenticated, "malformed authorization header: expected `Bearer <token>`"),
        "user_jwt": (denied, "principal 'carol' is not an admin; this needs an admin credential"),
        "admin_jwt": "snapshot",
        "expired_admin_jwt": (unauthenticated, "expired token: its exp claim has passed"),
    }
    for token in (user, admin, unknown, *jwts.values()):
        assert token not in caplog.text


async def test_with_authentication_off_anyone_on_loopback_may_watch(server, channel):
    assert server.authenticator is None
    assert await first_event_or_error(channel, ()) == "snapshot"


async def test_tail_takes_a_token_from_the_flag_or_the_environment(start, tmp_path):
    auth, user, admin = authenticator(tmp_path)
    server = await start(authenticator=auth)

    async def tail(*flags: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        command = [NEXY_STREAM, "tail", "--json", "--duration", "1", "--target", server.target]
        with anyio.fail_after(60):
            done = await anyio.run_process(
                [*command, *flags], env={**os.environ, **(env or {})}, check=False
            )
        return done.returncode, done.stdout.decode(), done.stderr.decode()

    code, out, _ = await tail("--token", admin)
    assert code == 0 and '"snapshot"' in out
    code, out, _ = await tail(env={"NEXY_STREAM_TOKEN": admin})
    assert code == 0 and '"snapshot"' in out
    code, _, err = await tail(env={"NEXY_STREAM_TOKEN": user})
    assert code == 1 and "cannot watch" in err and "PERMISSION_DENIED" in err
    code, _, err = await tail()
    assert code == 1 and "UNAUTHENTICATED: no credential" in err
    assert user not in err and admin not in err


class MetadataRecorder(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Notes the authorization header of every call (sessions do not check it yet)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        for key, value in details.invocation_metadata or ():
            if key == "authorization":
                self.seen.append((details.method.rsplit("/", 1)[-1], value))
        return await continuation(details)


async def test_the_sdk_and_load_send_the_bearer_token(start):
    recorder = MetadataRecorder()
    server = await start(interceptors=(recorder,))
    token = new_token()
    async with Client(server.target, token=token) as client, client.session("d") as s:
        await s.commit("hello")
        async for _ in s:
            pass
    plan = LoadPlan(server.target, 2, 1, 30.0, pace=0, profile=SMALL, metadata=bearer(token))
    assert (await run_load(plan)).invariants_held
    assert recorder.seen == [("Session", f"Bearer {token}")] * 3


def test_a_token_grpc_cannot_send_is_refused_without_repeating_it():
    with pytest.raises(ValueError, match="printable ASCII") as refused:
        Client("127.0.0.1:1", token="nxs_bad\ntoken")
    assert "nxs_bad" not in str(refused.value)


@pytest.fixture
def recording_server() -> Iterator[tuple[RunningServer, MetadataRecorder]]:
    recorder = MetadataRecorder()
    with serve_on_a_thread(interceptors=(recorder,)) as threaded:
        yield threaded.server, recorder


def test_say_sends_the_token_of_the_flag_or_the_environment(recording_server, monkeypatch, capsys):
    server, recorder = recording_server
    flag, env = new_token(), new_token()
    say = ["say", "hello", "--no-interims", "--target", server.target]
    assert main([*say, "--token", flag]) == 0
    monkeypatch.setenv("NEXY_STREAM_TOKEN", env)
    assert main(say) == 0
    assert recorder.seen == [("Session", f"Bearer {flag}"), ("Session", f"Bearer {env}")]
    assert flag not in capsys.readouterr().out
