"""The processing pipeline: committed utterance in, output stream out."""

from nexy_stream.pipeline.base import AudioOutput, Output, Pipeline, TextOutput
from nexy_stream.pipeline.echo import EchoPipeline

__all__ = ["AudioOutput", "EchoPipeline", "Output", "Pipeline", "TextOutput"]
