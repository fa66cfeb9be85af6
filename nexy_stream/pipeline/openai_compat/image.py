"""The screenshot as the LLM gets it: scaled down and re-encoded as JPEG, in a ``data:`` URL.

A 5K screen's PNG is megabytes; the model sees no more at 1280 pixels and the request is
ten times smaller. Decoding and encoding take tens of milliseconds of CPU, so they run on a
worker thread, never on the event loop that serves every other session.
"""

from __future__ import annotations

import base64
import io

import anyio.to_thread
from PIL import Image, UnidentifiedImageError

from nexy_stream.pipeline.base import PipelineError
from nexy_stream.session.errors import Code
from nexy_stream.session.values import Screenshot

MAX_PIXELS = 50_000_000
"""Larger images are refused before they are decoded (8K is 33 million pixels): a small
file can decode to gigabytes."""

JPEG_QUALITY = 85


async def data_url(shot: Screenshot, max_side: int) -> str:
    """``data:image/jpeg;base64,...`` of ``shot`` with its longer side at most ``max_side``."""
    return await anyio.to_thread.run_sync(_encode, shot, max_side)


def _encode(shot: Screenshot, max_side: int) -> str:
    try:
        with Image.open(io.BytesIO(shot.data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise PipelineError(
                    Code.INVALID_ARGUMENT,
                    f"the screenshot is {width}x{height} pixels, over {MAX_PIXELS}",
                )
            image.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced size
            rgb = image.convert("RGB")
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        rgb.save(out, "JPEG", quality=JPEG_QUALITY)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise PipelineError(
            Code.INVALID_ARGUMENT,
            f"the screenshot ({shot.mime_type}, {len(shot.data)} bytes) is not an image "
            f"that can be read: {type(exc).__name__}",
        ) from exc
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")
