"""Every command's --help, as a user reads it: no type placeholders for flags, every option described."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from audit.cli import app


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    # typer bundles its own click: commands and parameters are recognised by what they have
    yield path, group
    if getattr(group, "commands", None):
        for name, command in group.commands.items():
            yield from _commands(command, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"demo", "run", "evaluate", "verify", "export", "permissions", "checks", "runs list", "runs show",
            "runs diff"} <= names


@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(p) or "top" for p, _ in COMMANDS])
def test_help_has_no_bool_placeholder_and_describes_every_parameter(path: tuple[str, ...],
                                                                    command: Any) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert "<bool>" not in text and "BOOLEAN" not in text, text
    for param in command.params:
        described = getattr(param, "help", None)
        assert described and described.strip(), f"{' '.join(path)}: {param.name} has no help text"
        if param.param_type_name == "option" and getattr(param, "is_flag", False):
            line = next(line for line in text.splitlines() if param.opts[0] in line)
            assert described.split()[0] in line, f"{' '.join(path)}: flag {param.opts[0]} printed without its help"
