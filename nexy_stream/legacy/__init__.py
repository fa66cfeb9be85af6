"""The compatibility endpoint for deployed clients: ``streaming.StreamingService``.

The server assembles this package (``nexy_stream.server.app``), and this package hosts its
sessions with the server's parts: importing the server first lets a legacy module be
imported on its own without meeting the server half-initialized.
"""

import nexy_stream.server  # noqa: F401  (import order, see above)
