"""The import graph runs one way: session <- pipeline <- {server, auth} <- {legacy, ops} <- app
<- cli (auth, beside server, knows nothing of sessions).

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
    "nexy_stream.auth",
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
LAYERS = ["session", "pipeline", "server|auth", "legacy|ops", "app", "cli"]
SERVER_PARTS = ("nexy_stream.server", "nexy_stream.legacy", "nexy_stream.app.server")
# Beyond the layers: modules that must stay out of a process.
NEVER = {
    # The SDK is what applications embed: no server part, no pipeline.
    "nexy_stream.client": (*SERVER_PARTS, "nexy_stream.pipeline", "nexy_stream.ops"),
    "nexy_stream.loadgen": (*SERVER_PARTS, "nexy_stream.ops"),
    "nexy_stream.loadgen.processes": (*SERVER_PARTS, "nexy_stream.ops"),
    # The command line's entry point and the client tools load no server part, and no
    # pipeline (only `serve` loads the one it runs).
    "nexy_stream.cli": (*SERVER_PARTS, "nexy_stream.pipeline"),
    "nexy_stream.cli.tail": (*SERVER_PARTS, "nexy_stream.pipeline"),
    # Credentials are checked from call metadata alone, whatever carries the call.
    "nexy_stream.auth": (*SERVER_PARTS, "nexy_stream.session", "nexy_stream.pipeline"),
    # Settings are read without starting anything.
    "nexy_stream.app.config": SERVER_PARTS,
}


def loaded_after_import(module: str, prefix: str = "nexy_stream.") -> set[str]:
    """The modules named ``prefix...`` a fresh interpreter has loaded after importing
    ``module``."""
    code = (
        f"import json, sys; import {module}; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefix!r}))))"
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
    # Packages that share a layer (server and auth, legacy and ops) do not know each other.
    package = module.split(".")[1]
    for names in LAYERS:
        peers = names.split("|")
        if package in peers:
            others = tuple(f"nexy_stream.{peer}" for peer in peers if peer != package)
            known = sorted(m for m in loaded if m.startswith(others))
            assert not known, f"{module} loads {known}, which share its layer"
    forbidden = sorted(m for m in loaded if m.startswith(NEVER.get(module, ())))
    assert not forbidden, f"{module} loads {forbidden}"


def test_the_command_line_loads_no_jwt_library():
    """PyJWT and cryptography load only when a server is given a JWT key."""
    assert not loaded_after_import("nexy_stream.cli", prefix="jwt")
    assert not loaded_after_import("nexy_stream.cli", prefix="cryptography")


def test_serve_help_lists_the_pipelines_without_loading_their_clients_or_the_server():
    code = (
        "import json, sys\n"
        "from nexy_stream.cli import main\n"
        "try:\n    main(['serve', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    loaded = set(json.loads(done.stderr.splitlines()[-1]))
    assert "--llm-base-url" in done.stdout
    assert "nexy_stream.pipeline.openai_compat" in loaded  # its settings are listed
    heavy = ("openai", "PIL", "numpy", "soxr", *SERVER_PARTS)
    assert not sorted(m for m in loaded if m.split(".")[0] in heavy or m.startswith(heavy))
