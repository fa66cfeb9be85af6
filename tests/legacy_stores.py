"""The legacy suite runs against both stores: this process's memory (the default) and a
shared Redis (``--legacy-store``). A module imports :func:`legacy_store` and :func:`start`
from here: every server it starts then keeps its legacy utterances in the store of the
test's parameter."""

from __future__ import annotations

from typing import Any

import pytest

from nexy_stream.app.server import RunningServer
from tests.conftest import StartServer


@pytest.fixture(params=["memory", "redis"])
def legacy_store(request: pytest.FixtureRequest) -> str:
    """``""`` (in memory) or the URL of an emptied throwaway Redis."""
    if request.param == "memory":
        return ""
    redis = request.getfixturevalue("redis_server")
    redis.command("FLUSHDB")
    return str(redis.url)


@pytest.fixture
def start(start: StartServer, legacy_store: str) -> StartServer:
    """conftest's ``start``, its servers on the test's legacy store."""

    async def starting(*args: Any, **config: Any) -> RunningServer:
        config.setdefault("legacy_store", legacy_store)
        return await start(*args, **config)

    return starting


def memory_only(legacy_store: str, why: str) -> None:
    """Skips a test of what only the in-memory store does, saying why."""
    if legacy_store:
        pytest.skip(f"the shared store: {why}")


async def held(server: RunningServer) -> int:
    """Utterances waiting for their next call, wherever the server keeps them."""
    return await server.legacy.held()
