"""`nexy-stream serve` with authentication: its flags, protected mode and SIGHUP."""

from __future__ import annotations

import argparse
import re
import signal
from pathlib import Path

import grpc
import pytest

from nexy_stream.app.config import ServerConfig
from nexy_stream.auth import AuthConfig, LegacyAuth
from nexy_stream.auth.tokens import credential_line, new_token
from nexy_stream.cli import auth_options
from nexy_stream.ops.config import OpsConfig
from tests.auth_keys import AUDIENCE, Issuer, bearer, token_file
from tests.cli import serve_refuses
from tests.ops_client import next_event, watch
from tests.processes import serving

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("flags", "env", "where"),
    [
        (("--host", "0.0.0.0"), {}, "0.0.0.0 (public port)"),
        ((), {"NEXY_STREAM_HOST": "::"}, ":: (public port)"),
        (("--admin-port", "0", "--admin-host", "0.0.0.0"), {}, "0.0.0.0 (admin port)"),
    ],
)
async def test_protected_mode_refuses_to_listen_beyond_loopback_without_auth(flags, env, where):
    (line,) = await serve_refuses(*flags, env=env)
    assert f"refusing to listen on {where} without authentication" in line
    assert "--auth-tokens" in line and "--insecure-no-auth" in line


def test_protected_mode_lets_authentication_or_an_explicit_opt_out_through(tmp_path):
    everywhere = {"host": "0.0.0.0", "ops": OpsConfig(admin_host="::", admin_port=0)}
    ServerConfig(**everywhere, auth=AuthConfig(insecure_no_auth=True))  # type: ignore[arg-type]
    ServerConfig(**everywhere, auth=AuthConfig(tokens_file=tmp_path / "t"))  # type: ignore[arg-type]
    for loopback in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"):
        ServerConfig(host=loopback)
    for public in ("", "example.com", "10.0.0.1", "::"):
        with pytest.raises(ValueError, match="refusing to listen"):
            ServerConfig(host=public)


def flags(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    auth_options.register(parser)
    return parser.parse_args(argv)


def test_the_flags_build_the_auth_settings(tmp_path):
    config = auth_options.config_from(
        flags("--auth-tokens", "t", "--auth-jwt-key", "k", "--auth-jwt-audience", "a")
    )
    assert config == AuthConfig(Path("t"), Path("k"), "a", legacy=LegacyAuth.OPTIONAL)
    config = auth_options.config_from(flags("--auth-tokens", "t", "--legacy-auth", "required"))
    assert config.legacy is LegacyAuth.REQUIRED
    assert not auth_options.config_from(flags()).enabled


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (("--auth-jwt-key", "k"), "needs the audience its tokens are for (--auth-jwt-audience)"),
        (("--auth-jwt-audience", "a"), "a JWT audience or issuer needs a JWT key"),
        (("--legacy-auth", "sometimes", "--auth-tokens", "t"), "required, optional, off"),
        (("--legacy-auth", "required"), "--legacy-auth needs --auth-tokens or --auth-jwt-key"),
        (("--insecure-no-auth", "--auth-tokens", "t"), "contradicts --auth-tokens"),
    ],
)
def test_flags_that_do_not_go_together_are_refused(argv, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        auth_options.config_from(flags(*argv))


async def test_an_unusable_credential_file_stops_start_up_by_name(tmp_path):
    (tmp_path / "tokens").write_text("sha256:00  alice\n")
    (line,) = await serve_refuses("--auth-tokens", str(tmp_path / "tokens"))
    assert f"{tmp_path / 'tokens'} line 1: the first field is not sha256" in line
    (line,) = await serve_refuses("--auth-tokens", str(tmp_path / "missing"))
    assert f"--auth-tokens {tmp_path / 'missing'}: No such file or directory" in line
    (tmp_path / "key").write_text("too short")
    key = ("--auth-jwt-key", str(tmp_path / "key"), "--auth-jwt-audience", AUDIENCE)
    (line,) = await serve_refuses(*key)
    assert "an HMAC secret of 9 bytes, under 32" in line


async def can_watch(target: str, token: str) -> bool:
    async with grpc.aio.insecure_channel(target) as channel:
        call = watch(channel, bearer(token))
        try:
            return (await next_event(call)).HasField("snapshot")
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            return False
        finally:
            call.cancel()


async def test_sighup_rereads_the_token_file_and_a_bad_one_changes_nothing(tmp_path):
    path = tmp_path / "tokens"
    (first,) = token_file(path, ("ops", True))
    issuer = Issuer(tmp_path)
    flags = ("--auth-tokens", str(path), "--auth-jwt-key", str(issuer.key_file))
    async with serving(*flags, "--auth-jwt-audience", AUDIENCE) as (served, target):
        _, seen = await served.line(
            r"authentication: tokens from .* \(1 credentials\) and JWTs .* \(ES256\)"
        )
        second = new_token()
        with path.open("a") as out:
            out.write(credential_line(second, "ops2", admin=True))
        assert await can_watch(target, first) and not await can_watch(target, second)
        served.signal(signal.SIGHUP)
        _, seen = await served.line(r"token file .* reloaded: 2 credentials \(2 admin\)", seen)
        assert await can_watch(target, second)

        with path.open("a") as out:
            out.write(f"{new_token()}  pasted-by-mistake\n")
        served.signal(signal.SIGHUP)
        found, _ = await served.line("token file not reloaded", seen)
        line = found.string
        assert "2 credentials kept" in line and "line 3" in line and "pasted" not in line
        assert await can_watch(target, first) and await can_watch(target, second)
        assert await can_watch(target, issuer.token("idp-ops", scope="nexy:admin"))
        assert await served.stopped() == 0
