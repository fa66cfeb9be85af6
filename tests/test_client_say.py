"""``nexy-stream say`` and the README's programs, against the real server."""

from __future__ import annotations

import re
from pathlib import Path

from nexy_stream.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"


def test_say_plays_an_utterance_and_prints_the_answer(threaded_server, tmp_path, capsys):
    shot = tmp_path / "screen.png"
    shot.write_bytes(b"\x89PNG not really")
    argv = ["say", "what is on my screen", "--target", threaded_server.target]
    code = main([*argv, "--screenshot", str(shot), "--interim-delay", "0"])
    out = capsys.readouterr().out
    assert code == 0
    assert "committed: 'what is on my screen' + screenshot" in out
    assert "\nwhat is on my screen\n" in out
    assert re.search(r"commit -> first output\s+server\s+[\d.]+ ms\s+client\s+[\d.]+ ms", out)
    assert "5 interims" in out


def test_say_without_interims(threaded_server, capsys):
    assert main(["say", "hello", "--target", threaded_server.target, "--no-interims"]) == 0
    out = capsys.readouterr().out
    assert "committed: 'hello'\n" in out and "0 interims" in out


def test_say_reports_an_unreachable_server(capsys):
    assert main(["say", "hello", "--target", "127.0.0.1:9"]) == 1
    assert "UNAVAILABLE" in capsys.readouterr().err


def run_readme_program(section: str, target: str) -> None:
    """Runs the first Python block of a README section, with only the address swapped."""
    text = README.read_text().split(f"## {section}\n", 1)[1]
    program = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert "127.0.0.1:50051" in program
    program = program.replace("127.0.0.1:50051", target)
    exec(compile(program, str(README), "exec"), {"__name__": "__main__"})


def test_the_readme_sdk_program_works_as_written(threaded_server, capsys):
    run_readme_program("Client SDK", threaded_server.target)
    assert capsys.readouterr().out == "what is on my screen"


def test_the_readme_raw_stub_program_works_as_written(threaded_server, capsys):
    run_readme_program("Talk to it", threaded_server.target)
    out = capsys.readouterr().out
    assert 'commit_accepted {\n  text: "hello there"' in out
    assert "reason: END_REASON_COMPLETED" in out
