"""Every setting, declared once: name, default, help.

Precedence: command-line flag > environment variable (``STILLWATCH_<NAME>``) >
``stillwatch.toml`` (in the working directory, or the file ``STILLWATCH_CONFIG`` names) > default.
``stillwatch config`` prints the resolved values and where each came from.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stillwatch.errors import UsageError

CONFIG_FILE = "stillwatch.toml"
CONFIG_ENV = "STILLWATCH_CONFIG"


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str

    @property
    def env(self) -> str:
        return "STILLWATCH_" + self.name.upper()

    def parse(self, raw: Any, where: str) -> Any:
        kind = type(self.default)
        if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
            value = raw
        elif kind is int and isinstance(raw, str):
            try:
                value = parse_size(raw)
            except ValueError:
                raise UsageError(
                    f"setting {self.name} from {where}: expected an integer (sizes may say "
                    f"KiB/MiB/GiB), got {raw!r}"
                ) from None
        elif kind is str:
            value = str(raw)
        else:
            raise UsageError(
                f"setting {self.name} from {where}: expected {kind.__name__}, got {raw!r}"
            )
        if kind is int and value <= 0:
            raise UsageError(f"setting {self.name} from {where}: must be positive, got {value}")
        return value


def parse_size(text: str) -> int:
    """Bytes in a size such as ``1GB``, ``512MiB`` or ``1048576``; ValueError otherwise."""
    units = {
        "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
        "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4, "b": 1,
    }  # fmt: skip
    t = text.strip().lower().replace("_", "")
    for unit, factor in units.items():
        if t.endswith(unit):
            return int(float(t[: -len(unit)].strip()) * factor)
    return int(t)


SETTINGS: tuple[Setting, ...] = (
    Setting("store", "stillwatch.duckdb", "path of the DuckDB store file"),
    Setting(
        "max_text_bytes",
        1024 * 1024,
        "prompt, system_prompt and response longer than this (UTF-8 bytes) are truncated and "
        "flagged",
    ),
    Setting("batch_rows", 500_000, "rows validated and written per batch: bounds ingest memory"),
    Setting(
        "memory_limit",
        "1GB",
        "DuckDB memory limit of the store (ingest gives DuckDB half, its batches the rest); "
        "larger work spills to disk",
    ),
    Setting("threads", 0, "DuckDB worker threads; 0 means one per core"),
)
BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Resolved:
    values: Mapping[str, Any]
    sources: Mapping[str, str]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


def _config_file(env: Mapping[str, str]) -> Path | None:
    named = env.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise UsageError(f"{CONFIG_ENV}={named}: no such file")
        return path
    path = Path(CONFIG_FILE)
    return path if path.is_file() else None


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: not a readable TOML file: {exc}") from None
    unknown = sorted(set(data) - set(BY_NAME))
    if unknown:
        raise UsageError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}"
        )
    return data


def resolve(
    flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Resolved:
    """Resolve every setting. ``flags`` holds command-line values (None means not given)."""
    env = os.environ if env is None else env
    path = _config_file(env)
    from_file = _read_config(path) if path else {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for s in SETTINGS:
        flag = (flags or {}).get(s.name)
        if flag is not None:
            values[s.name], sources[s.name] = s.parse(flag, "flag"), "flag"
        elif s.env in env:
            values[s.name] = s.parse(env[s.env], f"${s.env}")
            sources[s.name] = f"env {s.env}"
        elif s.name in from_file:
            values[s.name] = s.parse(from_file[s.name], str(path))
            sources[s.name] = f"file {path}"
        else:
            values[s.name], sources[s.name] = s.default, "default"
    return Resolved(values, sources)
