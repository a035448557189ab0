"""A small reader for the Dockerfile's final stage: its ENV and CMD, as Docker applies them."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tests.infra.tools import REPO

DOCKERFILE = REPO / "Dockerfile"


@dataclass
class Stage:
    name: str
    env: dict[str, str] = field(default_factory=dict)
    cmd: list[str] = field(default_factory=list)
    copies: list[list[str]] = field(default_factory=list)


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def _expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), value)


def stages(path: Path = DOCKERFILE) -> list[Stage]:
    result: list[Stage] = []
    for keyword, rest in _instructions(path.read_text()):
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else str(len(result))
            result.append(Stage(name=name))
        elif not result:
            continue
        elif keyword == "ENV":
            stage = result[-1]
            # ENV applies its pairs left to right; later pairs see earlier ones.
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                stage.env[key] = _expand(value, {**stage.env})
        elif keyword == "CMD":
            result[-1].cmd = json.loads(rest) if rest.startswith("[") else ["/bin/sh", "-c", rest]
        elif keyword == "COPY" and "--from" not in rest:
            result[-1].copies.append(shlex.split(rest)[:-1])
    return result


def final_stage(path: Path = DOCKERFILE) -> Stage:
    return stages(path)[-1]


def build_context_sources(path: Path = DOCKERFILE) -> list[str]:
    return [src for stage in stages(path) for copy in stage.copies for src in copy]
