"""``python -m graphsurgeon`` runs the ``gs`` command line."""

import sys

from graphsurgeon.cli import main

sys.exit(main())
