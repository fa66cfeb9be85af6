"""What every subcommand has in common: flags, defaults in --help, the environment,
--version and errors prefixed by the subcommand."""

from __future__ import annotations

import argparse
import re
from importlib import metadata

import pytest

from nexy_stream.cli import build_parser, main
from tests.cli import nexy_stream

pytestmark = pytest.mark.anyio

SUBCOMMANDS = ("serve", "say", "load", "tail")


def subcommand(name: str) -> argparse.ArgumentParser:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser: argparse.ArgumentParser = commands.choices[name]
    return parser


def shown_default(action: argparse.Action) -> bool:
    default = action.default
    return not (default is None or default is False or default in ("", [], argparse.SUPPRESS))


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_help_shows_every_default(name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # no wrapping within a flag's help
    parser = subcommand(name)
    # One entry per flag: its line, and the next one when the flag is long.
    entries = re.split(r"\n(?=  -)", parser.format_help().split("options:", 1)[1])
    with_defaults = [a for a in parser._actions if a.option_strings and shown_default(a)]
    assert with_defaults
    for action in with_defaults:
        flag = action.option_strings[0]
        entry = next(e for e in entries if e.lstrip().startswith(flag))
        assert f"(default: {action.default})" in entry, entry


def test_help_shows_a_default_taken_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setenv("NEXY_STREAM_PORT", "6000")
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--help"])
    assert exited.value.code == 0
    assert "(default: 6000 from NEXY_STREAM_PORT)" in capsys.readouterr().out


def test_the_device_is_named_by_the_same_flag_everywhere():
    for name in ("say", "load", "tail"):
        flags = {flag for a in subcommand(name)._actions for flag in a.option_strings}
        assert "--device-id" in flags and "--device" not in flags, name


async def test_version_comes_from_the_package():
    done = await nexy_stream("--version")
    assert done.code == 0
    assert done.out == f"nexy-stream {metadata.version('nexy-stream')}\n"


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["say", "hi", "--interim-delay", "-1"],
            "nexy-stream say: error: argument --interim-delay",
        ),
        (["say", "hi", "--screenshot", "notes.txt"], "nexy-stream say: error: --screenshot"),
        (["load", "--sessions", "0"], "nexy-stream load: error: argument --sessions: must be"),
        (["load", "--concurrency", "x"], "nexy-stream load: error: argument --concurrency: 'x'"),
        (["load", "--pace", "-1"], "nexy-stream load: error: argument --pace: must not be neg"),
        (["tail", "--interval", "0"], "nexy-stream tail: error: argument --interval: must be"),
        (["tail", "--count", "0"], "nexy-stream tail: error: argument --count: must be positive"),
        (["tail", "--target", " "], "nexy-stream tail: error: argument --target: an address"),
    ],
)
def test_usage_errors_are_one_line_prefixed_by_the_subcommand(argv, said, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(said) and err.count("\n") == 1, err


async def test_a_bad_variable_of_one_subcommand_leaves_the_others_alone(threaded_server):
    bad = {"NEXY_STREAM_PORT": "abc", "NEXY_STREAM_INTERIM_DELAY": "soon"}
    target = threaded_server.target
    done = await nexy_stream("tail", "--target", target, "--json", "--duration", "1", env=bad)
    assert done.code == 0, done.err  # tail reads neither
    done = await nexy_stream("serve", env=bad)
    assert done.code == 2
    assert (
        done.err
        == "nexy-stream serve: error: NEXY_STREAM_PORT (for --port): 'abc' is not a whole number\n"
    )
    done = await nexy_stream("say", "hi", "--target", target, env=bad)
    assert done.code == 2
    assert done.err == (
        "nexy-stream say: error: NEXY_STREAM_INTERIM_DELAY (for --interim-delay): "
        "'soon' is not a number\n"
    )
    done = await nexy_stream("say", "hi", "--target", target, "--interim-delay", "0", env=bad)
    assert done.code == 0 and "committed: 'hi'" in done.out  # the flag wins over the variable
