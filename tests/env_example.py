"""`.env.example` read as data: which variables each section documents, and which are
marked as tuning knobs (shared by the tests of settings and of their groups)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PATH = Path(__file__).resolve().parents[1] / ".env.example"
TUNING_MARK = "(tuning: leave as is unless measuring)"

_SECTION = re.compile(r"^# --- (.+?) -+$")
_VARIABLE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]+)=")


@dataclass(frozen=True)
class Documented:
    name: str  # the variable, e.g. DB_POOL_SIZE
    section: str  # e.g. "database"
    tuning: bool  # its comment block carries the tuning mark


def documented() -> list[Documented]:
    """Every variable `.env.example` documents, in order, with its section and whether
    the comment lines just above it mark it as a tuning knob."""
    found: list[Documented] = []
    section = ""
    comments: list[str] = []
    for raw in PATH.read_text().splitlines():
        line = raw.strip()
        heading = _SECTION.match(line)
        variable = _VARIABLE.match(line)
        if heading:
            section, comments = heading.group(1), []
        elif variable:
            tuning = any(TUNING_MARK in comment for comment in comments)
            found.append(Documented(variable.group(1), section, tuning))
            comments = []
        elif line.startswith("#"):
            comments.append(line)
        else:
            comments = []
    return found
