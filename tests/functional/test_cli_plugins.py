"""Commands from other packages: discovered through the "kotae.commands" entry points, and a
broken one never takes the rest of the CLI down."""

from __future__ import annotations

import ast
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from kotae.cli.main import COMMANDS_GROUP, add_plugin_commands

ROOT = Path(__file__).resolve().parents[2]


def test_the_bot_provides_kotae_slack_through_an_entry_point(run) -> None:
    assert ("slack", "bot.cli:slack") in [(e.name, e.value) for e in entry_points(group=COMMANDS_GROUP)]
    code, out, _ = run("--help")
    assert code == 0 and "slack" in out and "Socket Mode" in out


def test_the_core_never_imports_the_bot() -> None:
    imported = []
    for path in (ROOT / "kotae").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            imported += [
                f"{path.relative_to(ROOT)}: {n}" for n in names if n == "bot" or n.startswith("bot.")
            ]
    assert imported == []


def core_cli() -> typer.Typer:
    """A CLI with one built-in command, standing in for kotae's."""
    cli = typer.Typer()

    @cli.command()
    def ask() -> None:
        print("answered")

    @cli.callback()
    def options() -> None:
        return

    return cli


def hello() -> None:
    print("hello from a plugin")


NOT_CALLABLE = "a string"


@pytest.fixture
def raising_module(tmp_path, monkeypatch) -> str:
    (tmp_path / "kotae_test_raising_plugin.py").write_text('raise RuntimeError("plugin bug\\nsecond line")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    return "kotae_test_raising_plugin:command"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param("kotae_test_no_such_plugin:command", "ModuleNotFoundError", id="missing-module"),
        pytest.param(f"{__name__}:no_such_command", "AttributeError", id="missing-function"),
        pytest.param(None, "RuntimeError: plugin bug", id="error-at-import"),
        pytest.param(f"{__name__}:NOT_CALLABLE", "it is not a function", id="not-callable"),
    ],
)
def test_a_broken_plugin_is_a_one_line_warning_and_the_rest_works(
    capsys, raising_module, value, reason
) -> None:
    # GIVEN a CLI with a good plugin and a broken one
    cli = core_cli()
    broken = EntryPoint(name="broken", value=value or raising_module, group=COMMANDS_GROUP)
    good = EntryPoint(name="hello", value=f"{__name__}:hello", group=COMMANDS_GROUP)
    # WHEN plugins are added
    add_plugin_commands(cli, [broken, good])
    # THEN the broken one is named in one line on stderr
    [warning] = capsys.readouterr().err.strip().splitlines()
    assert "plugin command 'broken'" in warning and reason in warning and "unavailable" in warning
    # AND the built-in and the good plugin still work
    runner = CliRunner()
    assert runner.invoke(cli, ["ask"]).stdout.strip() == "answered"
    assert runner.invoke(cli, ["hello"]).stdout.strip() == "hello from a plugin"
    assert runner.invoke(cli, ["broken"]).exit_code != 0


def test_a_plugin_cannot_replace_a_built_in_command(capsys) -> None:
    cli = core_cli()
    add_plugin_commands(cli, [EntryPoint(name="ask", value=f"{__name__}:hello", group=COMMANDS_GROUP)])
    assert "a command of that name exists" in capsys.readouterr().err
    assert CliRunner().invoke(cli, ["ask"]).stdout.strip() == "answered"
