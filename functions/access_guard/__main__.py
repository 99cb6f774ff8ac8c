"""`python -m access_guard`: the same CLI as the `access-guard` console script."""

import sys

from access_guard.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
