"""Undoing migrations on purpose: what `ballsy db downgrade REVISION` will undo, checked first.

The rollback runbook (DEPLOYMENT.md) runs the downgrade as a Cloud Run job on the new image,
the one that knows how to undo its own migrations, with no one at a terminal to confirm. So
the target must be an absolute revision id (or `base`): running the same job twice leaves
the database where the first run put it, whereas a relative `-1` would undo one more
migration each time. A target the migrations do not know, or one newer than the database,
is refused before anything changes.

Synchronous, like Alembic's API: async callers use `asyncio.to_thread`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ballsy.db.migrate import MIGRATIONS_DIR, alembic_config

BASE = "base"
# Relative or symbolic targets Alembic accepts but a repeatable job must not use.
_RELATIVE = re.compile(r"^(?:[-+]\d+|.*[-+]\d+|heads?|current)$")


class DowngradeRefused(ValueError):
    """The target cannot be downgraded to; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class DowngradePlan:
    current: str | None
    target: str
    undone: tuple[str, ...]  # revision ids, newest first

    @property
    def changes_nothing(self) -> bool:
        return not self.undone


def known_revisions(migrations_dir: Path = MIGRATIONS_DIR) -> list[str]:
    """Every revision id, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://", migrations_dir))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def plan_downgrade(
    current: str | None, target: str, migrations_dir: Path = MIGRATIONS_DIR
) -> DowngradePlan:
    """The migrations that going from `current` down to `target` undoes, newest first."""
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    target = target.strip()
    if _RELATIVE.match(target):
        raise DowngradeRefused(
            f"{target!r} is relative: name the revision to go back to (one of "
            f"{', '.join(known_revisions(migrations_dir))}, or base), so that running the "
            "same command again changes nothing more"
        )
    script = ScriptDirectory.from_config(alembic_config("sqlite://", migrations_dir))
    if target != BASE:
        try:
            found = script.get_revision(target)
        except CommandError:
            found = None
        if found is None:
            raise DowngradeRefused(
                f"unknown revision {target!r}; this release knows "
                f"{', '.join(known_revisions(migrations_dir))} (and base)"
            )
        target = found.revision
    if current is None or current == target:
        return DowngradePlan(current=current, target=target, undone=())
    if current not in known_revisions(migrations_dir):
        raise DowngradeRefused(
            f"the database is at {current}, a revision this release does not have: run the "
            "downgrade with the image that added it (it holds the steps to undo it)"
        )
    try:
        undone = [rev.revision for rev in script.iterate_revisions(current, target)]
    except (CommandError, RevisionError):
        undone = None
    if undone is None or (target != BASE and target in undone):
        raise DowngradeRefused(
            f"the database is at {current}, which is not newer than {target}; "
            "to move forward use `ballsy db upgrade`"
        )
    return DowngradePlan(current=current, target=target, undone=tuple(undone))
