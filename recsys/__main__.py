"""``python -m recsys``: see ``recsys.cli``."""

import sys

from recsys.cli import main

if __name__ == "__main__":
    sys.exit(main())
