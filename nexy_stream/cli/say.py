"""``nexy-stream say``: play one realistic utterance against a server through the SDK.

Interim snapshots word by word (as a speech recognizer sends them), an early screenshot,
then the commit; the answer is printed as it arrives, then the timings.
"""

from __future__ import annotations

import argparse
import mimetypes
import platform
import sys
from pathlib import Path
from typing import TextIO

import anyio
import grpc

from nexy_stream.cli.connection import add_connection_options, channel_credentials
from nexy_stream.cli.options import env_option
from nexy_stream.client import (
    AudioChunk,
    Client,
    Committed,
    Ended,
    NexyError,
    Session,
    TextChunk,
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    say = commands.add_parser(
        "say", help="play an utterance against a server and print its answer with timings"
    )
    say.add_argument("utterance", help='what the user says, e.g. "what is on my screen"')
    add_connection_options(say, "the server's address")
    env_option(say, "--device-id", str, f"say-{platform.node() or 'cli'}", "the device id")
    say.add_argument("--screenshot", type=Path, help="an image file sent early in the utterance")
    say.add_argument(
        "--interims",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="send interim snapshots word by word before the commit",
    )
    env_option(say, "--interim-delay", float, 0.08, "seconds between interim snapshots")
    say.set_defaults(run=run)


def _image(path: Path) -> tuple[bytes, str]:
    mime_type = mimetypes.guess_type(path.name)[0] or ""
    if not mime_type.startswith("image/"):
        raise ValueError(f"{path} is not an image file (.png, .jpg, .webp)")
    return path.read_bytes(), mime_type


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def report(ended: Ended, audio_s: float, session: Session, out: TextIO) -> None:
    server, client = ended.timings, ended.measured

    def line(label: str, field: str) -> None:
        theirs: float | None = getattr(server, field)
        ours: float | None = getattr(client, field)
        print(f"  {label:<22} server {_ms(theirs):>10}   client {_ms(ours):>10}", file=out)

    stats = session.stats
    print(file=out)  # ends the answer's line
    if audio_s:
        print(f"[audio {audio_s:.2f} s]", file=out)
    print(f"ended: {ended.reason.value}, {ended.output_frames} output frames", file=out)
    line("commit -> first output", "commit_to_first_output")
    line("commit -> end", "pipeline")
    line("total", "total")
    print(
        f"  frames: {stats.interims} interims, {stats.frames_sent} frames sent, "
        f"{stats.conflated} conflated, {stats.deduplicated} screenshots deduplicated",
        file=out,
    )


async def say(
    args: argparse.Namespace, credentials: grpc.ChannelCredentials | None, out: TextIO
) -> None:
    words = args.utterance.split()
    shot = _image(args.screenshot) if args.screenshot else None
    client = Client(args.target, credentials=credentials, token=args.token or None)
    async with client, client.session(device_id=args.device_id) as s:
        for count in range(1, len(words) + 1) if args.interims else ():
            await s.interim(" ".join(words[:count]))
            if count == 1 and shot is not None:
                await s.screenshot(shot[0], mime_type=shot[1])
            await anyio.sleep(args.interim_delay)
        if not args.interims and shot is not None:
            await s.screenshot(shot[0], mime_type=shot[1])
        await s.commit(args.utterance)
        audio_s = 0.0
        async for event in s:
            match event:
                case Committed(text, has_screenshot):
                    extra = " + screenshot" if has_screenshot else ""
                    print(f"committed: {text!r}{extra}", file=out)
                case TextChunk(text):
                    print(text, end="", file=out, flush=True)
                case AudioChunk(data, rate, channels):
                    audio_s += len(data) / (2 * rate * channels)
                case Ended():
                    report(event, audio_s, s, out)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        anyio.run(say, args, channel_credentials(args, parser), sys.stdout, backend="asyncio")
    except (NexyError, OSError, ValueError) as exc:
        print(f"nexy-stream say: {exc}", file=sys.stderr)
        return 1
    return 0
