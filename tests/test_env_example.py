"""`.env.example` documents every setting, and nothing that is not one; it marks the
tuning knobs (the settings only a benchmark would turn) and no others."""

from __future__ import annotations

from ballsy.config import Settings
from ballsy.config_groups import GROUPS
from tests.env_example import TUNING_MARK, documented

# Read by libraries, not by Settings, and documented for operators.
EXTERNAL = {"GOOGLE_GEMINI_BASE_URL"}


def test_every_setting_is_documented_and_nothing_else() -> None:
    names = {entry.name for entry in documented()}
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - names == set(), "settings missing from .env.example"
    assert names - fields - EXTERNAL == set(), ".env.example names unknown settings"


def test_the_tuning_knobs_are_marked_and_only_they() -> None:
    """Each group names its tuning knobs (`TUNING`); .env.example marks exactly those."""
    declared = {name.upper() for group in GROUPS.values() for name in group.TUNING}
    marked = {entry.name for entry in documented() if entry.tuning}
    assert declared, "no tuning knob declared: the check below would prove nothing"
    assert declared - marked == set(), f"mark these in .env.example with {TUNING_MARK!r}"
    assert marked - declared == set(), (
        "marked as tuning in .env.example but not in their group's TUNING "
        "(src/ballsy/config_groups.py)"
    )
