"""``python -m bench.profile``: where the server's time goes on the collect path.

Runs the nexy-stream server in this process under pyinstrument while a client process
streams collect frames at it (the throughput benchmark's client), then prints the profile.
"""

from __future__ import annotations

import argparse
import subprocess

import anyio
from pyinstrument import Profiler

from bench import bare_server
from bench.processes import PYTHON, free_port
from nexy_stream.app.config import ServerConfig
from nexy_stream.app.server import start_server
from nexy_stream.pipeline import EchoPipeline
from nexy_stream.session import Limits


async def profile(seconds: float, bare: bool) -> Profiler:
    port = free_port()
    if bare:
        server = await bare_server.start(port)
    else:
        config = ServerConfig(port=port, limits=Limits(max_chunks=100_000_000))
        running = await start_server(config, EchoPipeline())
    command = [PYTHON, "-m", "bench.clients", "frames", "--target", f"127.0.0.1:{port}"]
    command += ["--warmup", "0.5", "--seconds", str(seconds)]
    profiler = Profiler(async_mode="disabled")
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as client:  # noqa: ASYNC220
        profiler.start()
        await anyio.to_thread.run_sync(client.wait)
        profiler.stop()
        assert client.stdout is not None
        print(client.stdout.read().strip())
    await (server.stop(0) if bare else running.stop(0))
    return profiler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--html", help="also write an HTML profile here")
    parser.add_argument("--bare", action="store_true", help="profile the bare grpcio server")
    args = parser.parse_args()
    profiler = anyio.run(profile, args.seconds, args.bare, backend="asyncio")
    print(profiler.output_text(unicode=True, show_all=False))
    if args.html:
        with open(args.html, "w") as out:
            out.write(profiler.output_html())


if __name__ == "__main__":
    main()
