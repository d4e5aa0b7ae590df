"""``python -m omium.cli``: the same as the ``omium`` command."""

import sys

from omium.cli.app import main

sys.exit(main())
