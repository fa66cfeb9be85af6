"""The README's programs work as written, against the real server."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


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
