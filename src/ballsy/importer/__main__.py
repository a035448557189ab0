"""`python -m ballsy.importer`: the `ballsy db import-sqlite` command (`ballsy.importer.cli`)."""

import sys

# Guarded, imports included: the worker processes import this module under another name
# and must neither run it nor load the command line.
if __name__ == "__main__":
    from ballsy.importer.cli import main

    sys.exit(main())
