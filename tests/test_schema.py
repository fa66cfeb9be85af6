"""The committed generated code matches schema/, and the schema passes its linter."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_generated_code_does_not_drift_from_the_schema():
    result = subprocess.run(
        [sys.executable, "schema/generate.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_drifted_file_is_detected(tmp_path):
    """The check itself can fail: a copy of the tree with one edited file is caught."""
    shutil.copytree(ROOT / "schema", tmp_path / "schema")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "nexy_stream", tmp_path / "nexy_stream", ignore=ignore)
    generated = next((tmp_path / "nexy_stream" / "_proto").rglob("session_pb2.py"))
    generated.write_text(generated.read_text() + "\n# edited by hand\n")
    result = subprocess.run(
        [sys.executable, str(tmp_path / "schema" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "session_pb2.py" in result.stdout


def test_the_schema_passes_buf_lint():
    buf = shutil.which("buf", path=str(Path(sys.executable).parent))
    if buf is None:
        pytest.fail("buf is a dev dependency (buf-bin); reinstall with `make install`")
    result = subprocess.run(
        [buf, "lint"], cwd=ROOT / "schema", capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
