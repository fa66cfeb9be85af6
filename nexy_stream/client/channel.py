"""The one place a grpc.aio channel is opened, plaintext or TLS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc


def open_channel(
    target: str,
    credentials: grpc.ChannelCredentials | None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.aio.Channel:
    """A channel to ``target``: TLS with ``credentials``, plaintext without."""
    if credentials is None:
        return grpc.aio.insecure_channel(target, list(options))
    return grpc.aio.secure_channel(target, credentials, list(options))
