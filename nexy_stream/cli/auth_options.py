"""The authentication flags of ``nexy-stream serve``."""

from __future__ import annotations

import argparse
from pathlib import Path

from nexy_stream.auth import AuthConfig, Authenticator, LegacyAuth
from nexy_stream.cli.options import env_option


def register(serve: argparse.ArgumentParser) -> None:
    env_option(
        serve,
        "--auth-tokens",
        str,
        "",
        "token file (`nexy-stream auth new-token` writes it): callers need one of its tokens; "
        "re-read on SIGHUP",
    )
    env_option(
        serve, "--auth-jwt-key", str, "", "accept JWTs signed with this PEM public key or secret"
    )
    env_option(serve, "--auth-jwt-audience", str, "", "the aud claim JWTs must carry")
    env_option(serve, "--auth-jwt-issuer", str, "", "the iss claim JWTs must carry (unset: any)")
    env_option(
        serve,
        "--legacy-auth",
        str,
        "",
        "legacy clients: required, optional (a token is checked when sent) or off; "
        "with auth on, optional unless given",
    )
    serve.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="serve beyond loopback without authentication: anyone who reaches the port may "
        "open sessions and watch the admin feed",
    )


def config_from(args: argparse.Namespace) -> AuthConfig:
    """The settings the flags ask for; ``ValueError`` when they do not go together."""
    choices = [mode.value for mode in LegacyAuth]
    if args.legacy_auth and args.legacy_auth not in choices:
        raise ValueError(f"--legacy-auth is one of {', '.join(choices)}")
    config = AuthConfig(
        tokens_file=Path(args.auth_tokens) if args.auth_tokens else None,
        jwt_key_file=Path(args.auth_jwt_key) if args.auth_jwt_key else None,
        jwt_audience=args.auth_jwt_audience or None,
        jwt_issuer=args.auth_jwt_issuer or None,
        legacy=LegacyAuth(args.legacy_auth or LegacyAuth.OPTIONAL),
        insecure_no_auth=args.insecure_no_auth,
    )
    if args.legacy_auth and not config.enabled:
        raise ValueError("--legacy-auth needs --auth-tokens or --auth-jwt-key")
    return config


def authenticator_from(config: AuthConfig) -> Authenticator | None:
    """Reads the token file and the JWT key; ``ValueError`` names a file that will not do."""
    try:
        return Authenticator.from_config(config)
    except OSError as exc:
        flags = {
            str(config.tokens_file): "--auth-tokens",
            str(config.jwt_key_file): "--auth-jwt-key",
        }
        flag = flags.get(str(exc.filename), "")
        raise ValueError(f"{flag} {exc.filename}: {exc.strerror or exc}".lstrip()) from None
