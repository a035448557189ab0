"""`python -m ballsy.db.importer`: see `ballsy.db.importer.cli`."""

import sys

from ballsy.db.importer.cli import main

# Guarded: worker processes import this module under another name and must not run it.
if __name__ == "__main__":
    sys.exit(main())
