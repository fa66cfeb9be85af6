"""``python -m nexy_stream``: the same as the ``nexy-stream`` command."""

import sys

from nexy_stream.cli import main

sys.exit(main())
