"""The command line as a user runs it: a separate process, from the project root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tomli_w

from audit.config import Config

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`python -m audit ARGS`; `env` adds to (never replaces) this process's environment."""
    return subprocess.run([sys.executable, "-m", "audit", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout, env={**os.environ, **(env or {})})


def write_config(config: Config, data: Path, path: Path) -> Path:
    """`config` with its data directory moved to `data`, written as TOML to `path`."""
    moved = config.model_copy(update={"output": config.output.model_copy(update={"data_dir": data})})
    path.write_text(tomli_w.dumps(moved.model_dump(mode="json", exclude_none=True)))
    return path
