"""`python -m devtools.localhost`: see devtools.localhost.cli."""

import sys

from devtools.localhost.cli import main

sys.exit(main())
