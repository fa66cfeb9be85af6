"""The import graph runs one way: session <- pipeline <- server <- {legacy, ops} <- app <- cli.

Each package is imported alone in a fresh interpreter, so an import that only works after
another module happened to load first (a cycle held together by import order) fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PACKAGES = [
    "nexy_stream.session",
    "nexy_stream.pipeline",
    "nexy_stream.server",
    "nexy_stream.legacy",
    "nexy_stream.ops",
    "nexy_stream.app.config",
    "nexy_stream.app.server",
    "nexy_stream.app.supervisor",
    "nexy_stream.client",
    "nexy_stream.loadgen",
    "nexy_stream.loadgen.processes",
    "nexy_stream.cli",
    "nexy_stream.cli.tail",
]
LAYERS = ["session", "pipeline", "server", "legacy|ops", "app", "cli"]
SERVER_PARTS = ("nexy_stream.server", "nexy_stream.legacy", "nexy_stream.app.server")
# Beyond the layers: modules that must stay out of a process.
NEVER = {
    # The SDK is what applications embed: no server part, no pipeline.
    "nexy_stream.client": (*SERVER_PARTS, "nexy_stream.pipeline", "nexy_stream.ops"),
    "nexy_stream.loadgen": (*SERVER_PARTS, "nexy_stream.ops"),
    "nexy_stream.loadgen.processes": (*SERVER_PARTS, "nexy_stream.ops"),
    # The command line's entry point and the client tools load no server part.
    "nexy_stream.cli": SERVER_PARTS,
    "nexy_stream.cli.tail": SERVER_PARTS,
    # Settings are read without starting anything.
    "nexy_stream.app.config": SERVER_PARTS,
}


def loaded_after_import(module: str) -> set[str]:
    """The nexy_stream modules a fresh interpreter has loaded after importing ``module``."""
    code = (
        f"import json, sys; import {module}; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('nexy_stream.'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, f"import {module} alone failed:\n{done.stderr}"
    return set(json.loads(done.stdout))


def layer_of(module: str) -> int | None:
    package = module.split(".")[1]
    for rank, names in enumerate(LAYERS):
        if package in names.split("|"):
            return rank
    return None


@pytest.mark.parametrize("module", PACKAGES)
def test_each_package_imports_alone_and_loads_nothing_above_it(module: str) -> None:
    loaded = loaded_after_import(module)
    rank = layer_of(module)
    if rank is not None:
        above = sorted(m for m in loaded if (layer := layer_of(m)) is not None and layer > rank)
        assert not above, f"{module} loads {above}, which sit above it"
    # legacy and ops share a layer but do not know each other.
    if module.startswith(("nexy_stream.legacy", "nexy_stream.ops")):
        other = (
            "nexy_stream.ops" if module.startswith("nexy_stream.legacy") else "nexy_stream.legacy"
        )
        assert not any(m.startswith(other) for m in loaded), f"{module} loads {other}"
    forbidden = sorted(m for m in loaded if m.startswith(NEVER.get(module, ())))
    assert not forbidden, f"{module} loads {forbidden}"
