"""`.env.example` documents every setting, and nothing that is not one."""

from __future__ import annotations

import re
from pathlib import Path

from ballsy.config import Settings

ROOT = Path(__file__).resolve().parents[1]
# Read by libraries, not by Settings, and documented for operators.
EXTERNAL = {"GOOGLE_GEMINI_BASE_URL"}


def test_every_setting_is_documented_and_nothing_else() -> None:
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - documented == set(), "settings missing from .env.example"
    assert documented - fields - EXTERNAL == set(), ".env.example names unknown settings"
