"""`python -m ops.golive`."""

import sys

from ops.golive.cli import main

sys.exit(main())
