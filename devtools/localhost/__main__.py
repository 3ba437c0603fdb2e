"""`python -m devtools.localhost`: the local Functions runner (devtools.localhost.main)."""

import sys

from devtools.localhost import main

sys.exit(main())
