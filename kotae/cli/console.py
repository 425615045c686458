"""What every `kotae` command shares: the consoles, the top-level options, a progress bar."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kotae.settings import Settings, load_settings

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class State:
    """Options of the top-level callback, applied to every command's Settings."""

    overrides: ClassVar[dict[str, Any]] = {}


def settings(**extra: Any) -> Settings:
    return load_settings(**{**State.overrides, **extra})


def make_kotae(**extra: Any) -> Any:
    from kotae.app import Kotae

    return Kotae(settings(**extra))


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
