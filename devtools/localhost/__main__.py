"""`python -m devtools.localhost`: the local Functions runner (devtools.localhost.main)."""

from devtools.localhost import main

raise SystemExit(main())
