"""The processing pipeline: committed utterance in, output stream out."""

from nexy_stream.pipeline.base import (
    AudioOutput,
    CommitSignal,
    Item,
    Output,
    Pipeline,
    PipelineError,
    PreparingPipeline,
    StageTiming,
    TextOutput,
    pipeline_name,
    preparing,
)
from nexy_stream.pipeline.echo import EchoPipeline
from nexy_stream.pipeline.registry import PipelineFactory, setting
from nexy_stream.pipeline.workers import merged
from nexy_stream.session.values import Stage

__all__ = [
    "AudioOutput",
    "CommitSignal",
    "EchoPipeline",
    "Item",
    "Output",
    "Pipeline",
    "PipelineError",
    "PipelineFactory",
    "PreparingPipeline",
    "Stage",
    "StageTiming",
    "TextOutput",
    "merged",
    "pipeline_name",
    "preparing",
    "setting",
]
