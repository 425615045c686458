"""The `kotae` command line: one Typer app, its commands grouped by module (main, evaluate, ops)."""

from kotae.cli.main import app, main

__all__ = ["app", "main"]
