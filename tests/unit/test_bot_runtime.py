"""The bot's runtime: parts passed in are used as they are, and it is built once, on first use,
with the current Lambda invocation's context registered for idempotency."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from bot.idempotency import SQLiteThreadMemory
from bot.runtime import BotRuntime, LazyRuntime
from kotae.settings import load_settings
from tests.fakes import FailingSink, UnavailablePersistence


def test_parts_passed_in_are_used_and_the_rest_built_from_settings(tmp_path) -> None:
    persistence, sink = UnavailablePersistence(), FailingSink(OSError("disk full"))
    runtime = BotRuntime.from_settings(
        load_settings(data_dir=tmp_path), persistence=persistence, log_sink=sink
    )
    assert runtime.persistence is persistence and runtime.log_sink is sink
    assert isinstance(runtime.threads, SQLiteThreadMemory)  # built, though it shares a store with persistence
    assert runtime.kotae.settings.data_dir == tmp_path


def fake_runtime() -> SimpleNamespace:
    contexts: list[object] = []
    return SimpleNamespace(
        idempotency=SimpleNamespace(register_lambda_context=contexts.append), contexts=contexts
    )


def test_the_runtime_is_built_once_by_its_first_callers() -> None:
    built: list[SimpleNamespace] = []

    def build() -> SimpleNamespace:
        built.append(fake_runtime())
        return built[-1]

    lazy = LazyRuntime(build)  # type: ignore[arg-type]
    assert not lazy.built
    threads = [threading.Thread(target=lazy) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1 and lazy() is built[0] and lazy.built


def test_each_invocations_context_reaches_the_runtime_once_it_exists() -> None:
    runtime = fake_runtime()
    lazy = LazyRuntime(lambda: runtime)  # type: ignore[arg-type, return-value]
    lazy.enter("ack")  # before the runtime exists: nothing to register yet
    assert runtime.contexts == []
    lazy.enter("lazy")
    lazy()  # built in the answering invocation: registered there
    lazy.enter("next")
    assert runtime.contexts == ["lazy", "next"]


def test_an_installed_runtime_replaces_the_built_one() -> None:
    built, installed = fake_runtime(), fake_runtime()
    lazy = LazyRuntime(lambda: built)  # type: ignore[arg-type, return-value]
    lazy.enter("invocation")
    lazy.install(installed)  # type: ignore[arg-type]
    assert lazy() is installed and installed.contexts == ["invocation"]
    lazy.install(None)
    assert not lazy.built and lazy() is built
