"""`python -m devtools.golive`."""

import sys

from devtools.golive.cli import main

sys.exit(main())
