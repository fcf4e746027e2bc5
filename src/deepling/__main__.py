"""``python -m deepling ...`` runs the ``deepling`` command line."""

import sys

from deepling.cli import main

sys.exit(main())
