"""The gRPC server that hosts session actors."""

from nexy_stream.server.app import RunningServer, start_server
from nexy_stream.server.config import ServerConfig
from nexy_stream.server.registry import SessionRegistry

__all__ = ["RunningServer", "ServerConfig", "SessionRegistry", "start_server"]
