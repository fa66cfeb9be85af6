"""``nexy-stream say``: play one realistic utterance against a server through the SDK.

Interim snapshots word by word (as a speech recognizer sends them, the last one marked
stable), an early screenshot, then the commit; the answer is printed as it arrives, then the
timings.
"""

from __future__ import annotations

import argparse
import mimetypes
import platform
import sys
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import anyio

from nexy_stream.cli.connection import add_connection_options, channel_credentials
from nexy_stream.cli.options import env_option, non_negative_float
from nexy_stream.cli.process import EXIT_INTERRUPTED, fail, interrupts
from nexy_stream.client import (
    AudioChunk,
    Client,
    Committed,
    Ended,
    GoingAway,
    NexyError,
    Session,
    TextChunk,
)
from nexy_stream.session import Stage


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    say = commands.add_parser(
        "say",
        help="play an utterance against a server and print its answer with timings",
        description="Plays one utterance through the SDK (interims word by word, an early "
        "screenshot, the commit) and prints the answer as it arrives, then the timings. "
        "Exit status: 0 done, 1 the session failed, 2 a bad flag, 130 Ctrl-C.",
    )
    say.add_argument(
        "utterance", help='what the user says, e.g. "what is on my screen"; - reads it from stdin'
    )
    add_connection_options(say, "the server's address")
    env_option(say, "--device-id", str, f"say-{platform.node() or 'cli'}", "the device id")
    say.add_argument("--screenshot", type=Path, help="an image file sent early in the utterance")
    say.add_argument(
        "--out", type=Path, help="write the answer's audio to this WAV file (as the server sent it)"
    )
    say.add_argument(
        "--interims",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="send interim snapshots word by word before the commit",
    )
    env_option(
        say, "--interim-delay", non_negative_float, 0.08, "seconds between interim snapshots"
    )
    return say


@dataclass(frozen=True, slots=True)
class Request:
    """What to say, checked before any connection is made."""

    utterance: str
    device_id: str
    screenshot: tuple[bytes, str] | None
    interims: bool
    interim_delay_s: float


def request_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Request:
    text = sys.stdin.read() if args.utterance == "-" else args.utterance
    utterance = " ".join(text.split())
    if not utterance:
        parser.error("nothing to say: the utterance is empty" + (" (stdin)" * (text != "")))
    shot = None
    if args.screenshot is not None:
        mime_type = mimetypes.guess_type(args.screenshot.name)[0] or ""
        if not mime_type.startswith("image/"):
            parser.error(f"--screenshot {args.screenshot}: not an image file (.png, .jpg, .webp)")
        try:
            shot = (args.screenshot.read_bytes(), mime_type)
        except OSError as exc:
            parser.error(f"--screenshot {args.screenshot}: {exc.strerror or exc}")
    return Request(utterance, args.device_id, shot, args.interims, args.interim_delay)


class WavFile:
    """The answer's audio as a WAV file, in the rate and channels the server sent.

    The file is opened before the session starts, so a path that cannot be written is
    known at once; it is removed again if the answer has no audio.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("wb")
        self._wav: wave.Wave_write | None = None
        self._format: tuple[int, int] | None = None

    def write(self, chunk: AudioChunk) -> None:
        audio_format = (chunk.sample_rate_hz, chunk.channels)
        if self._wav is None:
            self._wav = wave.open(self._file, "wb")  # noqa: SIM115  # closed by finish()
            self._wav.setnchannels(chunk.channels)
            self._wav.setsampwidth(2)  # PCM s16le
            self._wav.setframerate(chunk.sample_rate_hz)
            self._format = audio_format
        elif audio_format != self._format:
            raise ValueError(
                f"the answer's audio changed from {self._format} to {audio_format} (Hz, "
                "channels) mid-way: one WAV file holds one format"
            )
        self._wav.writeframes(chunk.data)

    def finish(self) -> bool:
        """Completes the file, or removes it when no audio came; whether audio was written."""
        if self._wav is not None:
            self._wav.close()
        self._file.close()
        if self._wav is None:
            self.path.unlink(missing_ok=True)
        return self._wav is not None


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def report(ended: Ended, audio_s: float, session: Session, out: TextIO) -> None:
    server, client = ended.timings, ended.measured

    def line(label: str, field: str) -> None:
        theirs: float | None = getattr(server, field)
        ours: float | None = getattr(client, field)
        print(f"  {label:<22} server {_ms(theirs):>10}   client {_ms(ours):>10}", file=out)

    def stage(label: str, stage: Stage) -> None:
        """A stage of the pipeline's run, as it measured it (the client cannot)."""
        seconds = server.stage(stage)
        if seconds is not None:
            print(f"    {label:<20} pipeline {_ms(seconds):>8}", file=out)

    stats = session.stats
    print(file=out)  # ends the answer's line
    if audio_s:
        print(f"[audio {audio_s:.2f} s]", file=out)
    print(f"ended: {ended.reason.value}, {ended.output_frames} output frames", file=out)
    line("commit -> first output", "commit_to_first_output")
    line("commit -> first text", "commit_to_first_text")
    stage("LLM first token", Stage.LLM_FIRST_TOKEN)
    line("commit -> first audio", "commit_to_first_audio")
    stage("TTS first byte", Stage.TTS_FIRST_BYTE)
    line("commit -> end", "pipeline")
    line("total", "total")
    if server.prepared:
        print(
            f"  prepared during collect: the answer came {_ms(server.prepared_ahead)} sooner",
            file=out,
        )
    print(
        f"  frames: {stats.interims} interims, {stats.frames_sent} frames sent, "
        f"{stats.conflated} conflated, {stats.deduplicated} screenshots deduplicated"
        + (f", {stats.resumptions} resumed" if stats.resumptions else ""),
        file=out,
    )


async def say(
    request: Request,
    client: Client,
    out: TextIO,
    wav: WavFile | None = None,
) -> None:
    words, shot = request.utterance.split(), request.screenshot
    async with client, client.session(device_id=request.device_id) as s:
        for count in range(1, len(words) + 1) if request.interims else ():
            # The whole utterance is the recognizer's final segment: marked stable.
            await s.interim(" ".join(words[:count]), stable=count == len(words))
            if count == 1 and shot is not None:
                await s.screenshot(shot[0], mime_type=shot[1])
            await anyio.sleep(request.interim_delay_s)
        if not request.interims and shot is not None:
            await s.screenshot(shot[0], mime_type=shot[1])
        await s.commit(request.utterance)
        audio_s = 0.0
        resumed = s.stats.resumptions
        async for event in s:
            if s.stats.resumptions > resumed:  # the SDK resumed a lost stream: say so
                resumed = s.stats.resumptions
                print(
                    f"nexy-stream say: the stream was lost and the session resumed "
                    f"({resumed} time{'s' if resumed > 1 else ''})",
                    file=sys.stderr,
                )
            match event:
                case Committed(text, has_screenshot):
                    extra = " + screenshot" if has_screenshot else ""
                    print(f"committed: {text!r}{extra}", file=out)
                case TextChunk(text):
                    print(text, end="", file=out)
                case AudioChunk(data, rate, channels):
                    audio_s += len(data) / (2 * rate * channels)
                    if wav is not None:
                        wav.write(event)
                case GoingAway(time_left_s):
                    print(
                        f"nexy-stream say: the server is going away: the answer has "
                        f"{time_left_s:.1f} s left to come",
                        file=sys.stderr,
                    )
                case Ended():
                    report(event, audio_s, s, out)
            out.flush()  # each piece as it comes, also through a pipe


async def say_until_interrupted(
    request: Request, client: Client, out: TextIO, wav: WavFile | None
) -> bool:
    """Says it; ``True`` when Ctrl-C cut it short (the session is dropped on the way, which
    stops the server's pipeline)."""
    with anyio.CancelScope() as scope:
        with interrupts(scope.cancel):
            await say(request, client, out, wav)
    return scope.cancelled_caught


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    request = request_from(args, parser)
    client = Client(
        args.target, credentials=channel_credentials(args, parser), token=args.token or None
    )
    wav = None
    if args.out is not None:
        try:
            wav = WavFile(args.out)
        except OSError as exc:
            parser.error(f"--out {args.out}: {exc.strerror or exc}")
    try:
        interrupted = anyio.run(
            say_until_interrupted, request, client, sys.stdout, wav, backend="asyncio"
        )
    except BrokenPipeError:
        raise  # the reader of stdout went away: ends quietly (see cli.main)
    except (NexyError, OSError, ValueError) as exc:
        return fail(parser, str(exc))
    finally:
        wrote_audio = wav is not None and wav.finish()
    if wav is not None and not wrote_audio and not interrupted:
        print(f"{parser.prog}: the answer had no audio: {wav.path} not written", file=sys.stderr)
    return EXIT_INTERRUPTED if interrupted else 0
