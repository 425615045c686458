from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kotae.app import Kotae
from kotae.models import Item
from kotae.providers.sqlite_store import SQLiteStore
from kotae.settings import load_settings
from tests.fakes import FakeEmbedder, FakeGenerator

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ROOT / "prompts"
SAMPLES = ROOT / "samples"

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never see the developer's KOTAE_*, AWS or Powertools settings, nor real credentials."""
    for name in list(os.environ):
        if name.startswith(("KOTAE_", "AWS_", "POWERTOOLS_")):
            monkeypatch.delenv(name)
    # Set, so that what a command sets (`kotae slack` disables metrics) is undone after the test.
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    monkeypatch.setenv("KOTAE_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "store.sqlite3")
    yield s
    s.close()


@pytest.fixture
def embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def generator() -> FakeGenerator:
    return FakeGenerator()


@pytest.fixture
def make_kotae(store: SQLiteStore, tmp_path: Path):
    def make(embedder=None, generator=None, **settings) -> Kotae:
        config = load_settings(**{"data_dir": tmp_path / "data", "prompts_dir": PROMPTS, **settings})
        return Kotae(config, store=store, embedder=embedder, generator=generator)

    return make


def faq(key: str, question: str, answer: str, **extra) -> Item:
    return Item.from_mapping(
        {"item_key": key, "kind": "faq", "question": question, "answer": answer, **extra}
    )


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run the `kotae` command in-process: (exit code, stdout, stderr)."""
    import kotae.aws
    from kotae.cli import main

    def invoke(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["kotae", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    kotae.aws.client.cache_clear()  # clients are cached per process; tests change endpoints
    yield invoke
    kotae.aws.client.cache_clear()
