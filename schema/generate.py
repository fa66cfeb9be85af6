"""Generate the Python code of the contract in ``schema/`` (``make proto``).

The generated modules are committed. ``--check`` regenerates into a temporary folder and
fails when the committed copy differs, so the code never drifts from the schema.

protoc writes absolute imports (``from nexy.stream.v1 import session_pb2``) that only work
with the output folder on ``sys.path``; they are rewritten to live under ``nexy_stream._proto``.
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import os
import re
import sys
import tempfile
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

SCHEMA = Path(__file__).resolve().parent
ROOT = SCHEMA.parent
PACKAGE = "nexy_stream._proto"
OUTPUT = ROOT / "nexy_stream" / "_proto"
PROTOS = sorted(p.relative_to(SCHEMA).as_posix() for p in SCHEMA.rglob("*.proto"))
# The client SDK's typed messages (betterproto2 dataclasses) cover the v1 stream contract.
MESSAGES = ROOT / "nexy_stream" / "client" / "_messages"
MESSAGE_PROTOS = [p for p in PROTOS if p.startswith("nexy/stream/")]


def generate(out: Path) -> None:
    """Run protoc on every schema file into ``out`` and make the result a package."""
    well_known = str(resources.files("grpc_tools") / "_proto")
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{SCHEMA}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *PROTOS,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    packages = {p.split("/")[0] for p in PROTOS if "/" in p}
    pattern = re.compile(rf"^(from|import) ({'|'.join(sorted(packages))})\b", re.MULTILINE)
    # A file at the root of schema/ (the legacy streaming.proto) is imported as a bare module.
    roots = sorted(f"{Path(p).stem}_pb2" for p in PROTOS if "/" not in p) or ["(?!)"]
    root_import = re.compile(rf"^import ({'|'.join(roots)}) as\b", re.MULTILINE)
    for path in out.rglob("*.py*"):
        text = pattern.sub(rf"\1 {PACKAGE}.\2", path.read_text())
        text = root_import.sub(rf"from {PACKAGE} import \1 as", text)
        path.write_text(text)
    for folder in [out, *(p for p in out.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()


def generate_messages(out: Path) -> None:
    """Run the betterproto2 plugin on the v1 stream contract into ``out`` (relative imports).

    The plugin formats its output with the ``ruff`` found on PATH and the ruff settings of
    the working folder: the pinned ruff beside this interpreter and the project's settings
    are used, so the output does not depend on where it is run from.
    """
    tools = Path(sys.executable).parent
    os.environ["PATH"] = f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{SCHEMA}",
        f"-I{resources.files('grpc_tools') / '_proto'}",
        f"--plugin=protoc-gen-python_betterproto2={tools / 'protoc-gen-python_betterproto2'}",
        f"--python_betterproto2_out=client_generation=none:{out}",
        *MESSAGE_PROTOS,
    ]
    with contextlib.chdir(ROOT):
        if protoc.main(args) != 0:
            raise SystemExit("protoc (betterproto2) failed")


TARGETS = ((generate, OUTPUT), (generate_messages, MESSAGES))


def differences(expected: Path, actual: Path) -> list[str]:
    """Names of the files that differ between two generated trees."""
    found: list[str] = []
    comparison = [filecmp.dircmp(expected, actual, ignore=["__pycache__"])]
    while comparison:
        c = comparison.pop()
        found += [f"{c.left}/{n}" for n in c.left_only + c.right_only + c.diff_files]
        found += [
            f"{c.left}/{n}"
            for n in filecmp.cmpfiles(c.left, c.right, c.same_files, shallow=False)[1]
        ]
        comparison += c.subdirs.values()
    return sorted(set(found))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed code drifts")
    if not parser.parse_args().check:
        for make, output in TARGETS:
            make(output)
        return 0
    drift: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for make, output in TARGETS:
            fresh = Path(tmp) / output.name
            make(fresh)
            drift += differences(fresh, output)
    if drift:
        print("generated code drifts from schema/ (run `make proto`):", *drift, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
