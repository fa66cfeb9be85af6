"""nexy-stream whose pipeline speaks at a given sample rate, with an event-loop lag probe.

``python -m bench.audio_server --port PORT --rate HZ``

Legacy clients play 48 kHz mono, so answers spoken at another rate are resampled by the
server. The probe is a task on the server's event loop that sleeps ``PROBE_S`` again and
again and records how late each sleep wakes up: whatever holds the loop (resampling on it,
say) delays every session by as much. Commands on stdin, one per line: ``start`` forgets
the samples so far, ``report`` prints their percentiles (ms) as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import AsyncGenerator

import anyio

from nexy_stream.app.config import ServerConfig
from nexy_stream.app.server import start_server
from nexy_stream.loadgen.stats import latency_ms
from nexy_stream.pipeline import AudioOutput, Output, TextOutput
from nexy_stream.pipeline.echo import tone
from nexy_stream.session import CommittedRequest, Limits

PROBE_S = 0.002
ANSWER_S = 2.0  # seconds of speech per answer
PIECE_S = 0.1  # a TTS streams its speech in pieces this long...
PACE_S = 0.01  # ...and makes each one this long after the previous (10x real time)


class SpeakingPipeline:
    """Answers every commit with a word, then ``ANSWER_S`` of a tone, piece by piece."""

    def __init__(self, rate_hz: int) -> None:
        self.rate_hz = rate_hz
        speech = tone(ANSWER_S, rate_hz)
        step = 2 * round(PIECE_S * rate_hz)
        self._pieces = [speech[i : i + step] for i in range(0, len(speech), step)]

    async def run(self, request: CommittedRequest) -> AsyncGenerator[Output, None]:
        yield TextOutput("speaking")
        for piece in self._pieces:
            await anyio.sleep(PACE_S)
            yield AudioOutput(piece, self.rate_hz, channels=1)


async def probe(samples: list[float]) -> None:
    while True:
        before = time.perf_counter()
        await anyio.sleep(PROBE_S)
        samples.append(time.perf_counter() - before - PROBE_S)


async def serve(port: int, rate_hz: int) -> None:
    limits = Limits(idle_timeout_s=3600, max_duration_s=3600)
    config = ServerConfig(host="127.0.0.1", port=port, limits=limits, shutdown_grace_s=0)
    server = await start_server(config, SpeakingPipeline(rate_hz))
    samples: list[float] = []
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(probe, samples)
        while command := (await anyio.to_thread.run_sync(sys.stdin.readline)).strip():
            if command == "start":
                samples.clear()
            elif command == "report":
                print(json.dumps({**latency_ms(samples), "max": round(max(samples) * 1e3, 3)}))
                sys.stdout.flush()
        tasks.cancel_scope.cancel()
    await server.stop(0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=int, required=True)
    arguments = parser.parse_args()
    anyio.run(serve, arguments.port, arguments.rate, backend="asyncio")
