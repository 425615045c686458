"""kotae.settings: argument > KOTAE_* environment > default, and clear ConfigErrors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kotae.errors import ConfigError
from kotae.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("KOTAE_", "AWS_")):
            monkeypatch.delenv(name)
    # keep the default data directory off the real home
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.data_dir == tmp_path / "xdg" / "kotae"
    assert settings.store_path == tmp_path / "xdg" / "kotae" / "kotae.sqlite3"
    assert settings.prompts_dir is None
    assert (settings.store, settings.embedder, settings.generator) == ("sqlite", "none", "extractive")
    assert settings.aws_region is None
    assert settings.knowledge_table == "kotae-knowledge"
    assert settings.embedding_dimensions == 1024
    assert settings.embedding_normalize is True
    assert settings.top_k == 5
    assert (settings.chunk_chars, settings.chunk_overlap) == (800, 100)
    assert settings.min_relevance == 0.25
    assert settings.temperature == 0.0
    assert (settings.prompt_task, settings.prompt_version) == ("answer", "v1")
    assert settings.retrieval_mode == "hybrid"
    assert settings.opensearch_auth == "sigv4-aoss"


def test_data_dir_without_xdg_is_under_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_settings().data_dir == tmp_path / ".local" / "share" / "kotae"


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        pytest.param("KOTAE_STORE", "opensearch", "store", "opensearch", id="store"),
        pytest.param("KOTAE_EMBEDDER", "titan", "embedder", "titan", id="embedder"),
        pytest.param("KOTAE_GENERATOR", "bedrock", "generator", "bedrock", id="generator"),
        pytest.param("KOTAE_TOP_K", "7", "top_k", 7, id="int"),
        pytest.param("KOTAE_TEMPERATURE", "0.5", "temperature", 0.5, id="float"),
        pytest.param("KOTAE_EMBEDDING_NORMALIZE", "false", "embedding_normalize", False, id="bool"),
        pytest.param("KOTAE_DATA_DIR", "/srv/kotae", "data_dir", Path("/srv/kotae"), id="path"),
        pytest.param(
            "KOTAE_OPENSEARCH_ENDPOINT",
            "https://os.example",
            "opensearch_endpoint",
            "https://os.example",
            id="optional-str",
        ),
        pytest.param("KOTAE_RETRIEVAL_MODE", "lexical", "retrieval_mode", "lexical", id="mode"),
        pytest.param("kotae_top_k", "9", "top_k", 9, id="case-insensitive-name"),
    ],
)
def test_environment(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str, expected: object
) -> None:
    monkeypatch.setenv(variable, value)
    assert getattr(load_settings(), field) == expected


def test_explicit_argument_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAE_STORE", "opensearch")
    monkeypatch.setenv("KOTAE_TOP_K", "7")
    settings = load_settings(store="sqlite", top_k=3)
    assert (settings.store, settings.top_k) == ("sqlite", 3)


def test_none_argument_leaves_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAE_STORE", "opensearch")
    assert load_settings(store=None).store == "opensearch"


def test_store_path_follows_data_dir(tmp_path: Path) -> None:
    assert load_settings(data_dir=tmp_path).store_path == tmp_path / "kotae.sqlite3"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({"AWS_DEFAULT_REGION": "ap-south-1"}, "ap-south-1", id="aws-default-region"),
        pytest.param({"AWS_REGION": "us-east-1"}, "us-east-1", id="aws-region"),
        pytest.param(
            {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "ap-south-1"},
            "us-east-1",
            id="aws-region-beats-default",
        ),
        pytest.param(
            {
                "KOTAE_AWS_REGION": "ap-northeast-1",
                "AWS_REGION": "us-east-1",
                "AWS_DEFAULT_REGION": "ap-south-1",
            },
            "ap-northeast-1",
            id="kotae-beats-aws",
        ),
        pytest.param({}, None, id="unset"),
    ],
)
def test_aws_region(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str | None) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_settings().aws_region == expected


def test_explicit_region_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAE_AWS_REGION", "ap-northeast-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    assert load_settings(aws_region="eu-west-1").aws_region == "eu-west-1"


@pytest.mark.parametrize(
    ("variable", "value", "got"),
    [
        pytest.param("KOTAE_EMBEDDER", "bogus", "'bogus'", id="embedder-not-a-choice"),
        pytest.param("KOTAE_STORE", "postgres", "'postgres'", id="store-not-a-choice"),
        pytest.param("KOTAE_TOP_K", "0", "'0'", id="top-k-below-1"),
        pytest.param("KOTAE_TOP_K", "51", "'51'", id="top-k-above-50"),
        pytest.param("KOTAE_TOP_K", "five", "'five'", id="top-k-not-int"),
        pytest.param("KOTAE_EMBEDDING_DIMENSIONS", "300", "'300'", id="dimensions-not-a-choice"),
        pytest.param("KOTAE_TEMPERATURE", "1.5", "'1.5'", id="temperature-above-1"),
        pytest.param("KOTAE_CHUNK_CHARS", "50", "'50'", id="chunk-chars-below-100"),
        pytest.param("KOTAE_CHUNK_OVERLAP", "800", "'800'", id="overlap-equals-chunk"),
        pytest.param("KOTAE_CHUNK_OVERLAP", "900", "'900'", id="overlap-above-chunk"),
        pytest.param("KOTAE_EMBEDDING_CONCURRENCY", "65", "'65'", id="concurrency-above-64"),
    ],
)
def test_invalid_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, got: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"invalid setting: {variable}: ")
    assert message.endswith(f"(got {got})")
    assert caught.value.user_message == "kotae is not configured correctly."


def test_overlap_message_names_chunk_chars() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(chunk_chars=200, chunk_overlap=200)
    assert str(caught.value) == (
        "invalid setting: KOTAE_CHUNK_OVERLAP: Value error, must be smaller than KOTAE_CHUNK_CHARS (got 200)"
    )


def test_overlap_just_below_chunk_is_fine() -> None:
    settings = load_settings(chunk_chars=200, chunk_overlap=199)
    assert (settings.chunk_chars, settings.chunk_overlap) == (200, 199)


def test_every_problem_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAE_EMBEDDER", "bogus")
    monkeypatch.setenv("KOTAE_TOP_K", "0")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    problems = str(caught.value).removeprefix("invalid setting: ").split("; ")
    assert [p.split(":")[0] for p in problems] == ["KOTAE_EMBEDDER", "KOTAE_TOP_K"]


def test_invalid_explicit_argument_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^invalid setting: KOTAE_TOP_K: .*\(got 99\)$"):
        load_settings(top_k=99)


@pytest.mark.parametrize("value", [256, 512, 1024])
def test_dimensions_as_argument(value: int) -> None:
    assert load_settings(embedding_dimensions=value).embedding_dimensions == value


def test_dimensions_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAE_EMBEDDING_DIMENSIONS", "256")
    assert load_settings().embedding_dimensions == 256


# --- require -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [pytest.param(None, id="unset"), pytest.param("", id="empty")],
)
def test_require_missing_names_the_variable(value: str | None) -> None:
    settings = Settings(opensearch_endpoint=value)
    with pytest.raises(ConfigError) as caught:
        settings.require("opensearch_endpoint")
    assert str(caught.value) == (
        "KOTAE_OPENSEARCH_ENDPOINT is not set; it is required for this configuration"
    )


def test_require_returns_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAE_OPENSEARCH_ENDPOINT", "https://os.example")
    assert load_settings().require("opensearch_endpoint") == "https://os.example"


def test_require_accepts_falsy_values_that_are_set() -> None:
    settings = load_settings(temperature=0.0, embedding_normalize=False)
    assert settings.require("temperature") == 0.0
    assert settings.require("embedding_normalize") is False
