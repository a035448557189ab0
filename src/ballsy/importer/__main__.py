"""`python -m ballsy.importer`: see `ballsy.importer.cli`."""

import sys

from ballsy.importer.cli import main

# Guarded: worker processes import this module under another name and must not run it.
if __name__ == "__main__":
    sys.exit(main())
