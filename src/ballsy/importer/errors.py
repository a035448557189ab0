"""Errors the importer raises, each with a stable code."""

from __future__ import annotations

from ballsy.errors import BallsyError


class ImportFailed(BallsyError):
    """The import could not start or finish; the message says why and what to do."""

    code = "import_failed"
    status = 400


class SourceInvalid(ImportFailed):
    """The source is not a SQLite file, or holds none of the expected tables."""

    code = "import_source_invalid"


class TargetUnsupported(ImportFailed):
    """The target is not a PostgreSQL database."""

    code = "import_target_unsupported"


class TargetNotMigrated(ImportFailed):
    """The target is not at the migration head Ballsy needs."""

    code = "import_target_not_migrated"


class TargetNotEmpty(ImportFailed):
    """The target holds rows that did not come from an import of this source."""

    code = "import_target_not_empty"


class ImportInProgress(ImportFailed):
    """Another import into the same target is running."""

    code = "import_in_progress"


class ImportRejected(ImportFailed):
    """PostgreSQL refused some of the rows (a constraint or a value): running the import
    again would fail the same way, so the import undoes what it wrote (see `run`)."""

    code = "import_rejected"
