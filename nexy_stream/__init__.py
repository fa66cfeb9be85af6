"""nexy-stream: a voice assistant's utterance, collected then committed, over one gRPC stream."""

__version__ = "0.1.0"
