"""`python -m ballsy.db.importer`: see `ballsy.db.importer.cli`."""

import sys

from ballsy.db.importer.cli import main

sys.exit(main())
