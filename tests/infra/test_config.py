"""Context validation, the log schema against the app's records, and bundling (no pip, no synth)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="needs the infra extra: pip install -e '.[infra]'")
from kotae_infra import bundling
from kotae_infra.config import DEFAULTS, ContextError, KotaeConfig, split_profile
from kotae_infra.logs import LOG_TABLES

from tests.infra.conftest import INFRA


def parse(**overrides: Any) -> KotaeConfig:
    context = {**DEFAULTS, **{f"kotae:{k}": v for k, v in overrides.items()}}
    return KotaeConfig.from_context(context.get, context)


def problems(**overrides: Any) -> str:
    with pytest.raises(ContextError) as caught:
        parse(**overrides)
    return str(caught.value)


def test_cdk_json_carries_the_defaults() -> None:
    context = json.loads((INFRA / "cdk.json").read_text(encoding="utf-8"))["context"]
    assert {k: v for k, v in context.items() if k.startswith("kotae:")} == DEFAULTS
    assert json.loads((INFRA / "cdk.json").read_text(encoding="utf-8"))["app"] == "python3 app.py"


def test_defaults_are_valid() -> None:
    config = parse()
    assert config.embedding_dimensions == 1024
    assert config.search == "serverless"
    assert config.glue_database == "kotae_logs"


def test_cli_strings_are_parsed() -> None:
    # Values given with `cdk -c key=value` arrive as strings.
    config = parse(
        embeddingDimensions="512",
        answerLogVersioning="true",
        streamBatchSize="50",
        searchAdminPrincipals="arn:aws:iam::123456789012:role/ops, arn:aws:iam::123456789012:user/me",
    )
    assert config.embedding_dimensions == 512
    assert config.answer_log_versioning is True
    assert config.stream_batch_size == 50
    assert config.search_admin_principals == (
        "arn:aws:iam::123456789012:role/ops",
        "arn:aws:iam::123456789012:user/me",
    )


def test_bad_dimensions_name_the_key_and_the_allowed_values() -> None:
    message = problems(embeddingDimensions="384")
    assert "kotae:embeddingDimensions: must be one of 256, 512, 1024 (got '384')" in message
    assert "infra/cdk.json" in message


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"search": "elastic"}, "kotae:search"),
        ({"logRetentionDays": 31}, "kotae:logRetentionDays"),
        ({"streamMaxRetries": -1}, "kotae:streamMaxRetries: must be between 0 and 10000"),
        ({"streamMaxRecordAgeSeconds": -1}, "kotae:streamMaxRecordAgeSeconds"),
        ({"botMemoryMb": "lots"}, "kotae:botMemoryMb: must be a whole number"),
        ({"generationModelId": "claude please"}, "kotae:generationModelId"),
        ({"generationModelId": "us.us.anthropic.x-v1:0"}, "kotae:generationModelId"),
        ({"extraModelIds": "anthropic.ok-v1:0,not a model"}, "kotae:extraModelIds"),
        ({"embeddingModelId": "cohere.embed-multilingual-v3"}, "kotae:embeddingModelId"),
        ({"alarmEmail": "not-an-address"}, "kotae:alarmEmail"),
        ({"prefix": "Kotae_Prod"}, "kotae:prefix"),
        ({"region": "tokyo"}, "kotae:region"),
        ({"channelProfilesParameter": "/aws/reserved"}, "kotae:channelProfilesParameter"),
        ({"searchAdminPrincipals": "me"}, "kotae:searchAdminPrincipals"),
        ({"answerLogVersioning": "yes"}, "kotae:answerLogVersioning: must be true or false"),
        ({"answerLogExpirationDays": 60}, "must be greater than kotae:answerLogTransitionDays"),
        ({"assetDir": "/nonexistent/build"}, "kotae:assetDir"),
        # One would throttle the lazy answer behind its own ack; 0 would disable the bot.
        ({"botReservedConcurrency": 1}, "kotae:botReservedConcurrency: must be a whole number from 2 to 1000, or off"),
        ({"botReservedConcurrency": "0"}, "kotae:botReservedConcurrency"),
        ({"botReservedConcurrency": "none"}, "kotae:botReservedConcurrency"),
        ({"botReservedConcurrency": True}, "kotae:botReservedConcurrency"),
        ({"accessLogExpirationDays": 0}, "kotae:accessLogExpirationDays: must be between 1 and 36500"),
    ],
)
def test_invalid_values(overrides: dict[str, Any], expected: str) -> None:
    assert expected in problems(**overrides)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(20, 20, id="default"),
        pytest.param("50", 50, id="cli-string"),
        pytest.param("off", None, id="off"),
        pytest.param(" OFF ", None, id="off-any-case"),
    ],
)
def test_bot_reserved_concurrency(value: Any, expected: int | None) -> None:
    assert parse(botReservedConcurrency=value).bot_reserved_concurrency == expected


def test_every_problem_is_reported_at_once() -> None:
    message = problems(embeddingDimensions=100, search="x", botTimeoutSeconds=0)
    for key in ("embeddingDimensions", "search", "botTimeoutSeconds"):
        assert f"kotae:{key}" in message


def test_unknown_keys_are_typos() -> None:
    context = {**DEFAULTS, "kotae:embedingDimensions": 512}
    with pytest.raises(ContextError, match="kotae:embedingDimensions: unknown key"):
        KotaeConfig.from_context(context.get, context)


def test_split_profile() -> None:
    assert split_profile("jp.anthropic.claude-haiku-4-5-20251001-v1:0") == (
        True,
        "jp",
        "anthropic.claude-haiku-4-5-20251001-v1:0",
    )
    assert split_profile("us-gov.anthropic.x-v1:0") == (True, "us-gov", "anthropic.x-v1:0")
    assert split_profile("anthropic.claude-3-5-haiku-20241022-v1:0")[0] is False


def test_app_exits_with_the_message(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps({"kotae:embeddingDimensions": "384", "kotae:bundle": "skip"}),
    }
    result = subprocess.run(
        [sys.executable, str(INFRA / "app.py")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == 1
    assert "kotae:embeddingDimensions: must be one of 256, 512, 1024" in result.stderr
    assert not (tmp_path / "manifest.json").exists()


# --- the log schema matches what the app writes ------------------------------------------------


HIVE_TYPES = {"string": (str, type(None)), "boolean": (bool,), "int": (int,), "double": (float, int)}


def _check(value: Any, hive: str) -> None:
    if hive.startswith("array<struct<"):
        fields = dict(f.split(":") for f in hive[len("array<struct<") : -2].split(","))
        assert isinstance(value, list) and value
        for item in value:
            assert set(item) == set(fields)
            for name, kind in fields.items():
                _check(item[name], kind)
    elif hive.startswith("array<"):
        assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif hive.startswith("map<string,"):
        assert isinstance(value, dict) and value
        for v in value.values():
            _check(v, hive[len("map<string,") : -1])
    else:
        assert isinstance(value, HIVE_TYPES[hive]), (value, hive)


def test_glue_columns_match_the_answer_log_records() -> None:
    from kotae.models import Answer, Citation, Document, SearchHit, Usage
    from kotae.ops.answer_log import answer_record, feedback_record

    document = Document(chunk_id="faq-1#0000", item_key="faq-1", kind="faq", title="VPN", text="Use the app.")
    answer = Answer(
        question="How do I use the VPN?",
        text="Use the app [S1].",
        citations=[Citation(id="S1", key="faq-1", title="VPN", score=0.9)],
        hits=[SearchHit(document=document, score=0.9, relevance=0.8)],
        prompt_task="answer",
        prompt_version="v1",
        model_id="m",
        usage=Usage(input_tokens=10, output_tokens=5),
        timings_ms={"retrieve": 1.5, "generate": 20.0},
        route="light",
        route_reason="1 short source (20 chars), short question and thread",
        cost_usd=0.000035,
    )
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    records = {
        "answers": answer_record(
            answer, answer_id="a1", outcome="answered", team_id="T", channel_id="C", user_id="U", now=now
        ),
        "feedback": feedback_record("a1", "up", user_id="U", now=now),
    }
    for kind, columns in LOG_TABLES.items():
        assert list(records[kind]) == [name for name, _ in columns], kind
        for name, hive in columns:
            _check(records[kind][name], hive)


# --- bundling ------------------------------------------------------------------------------------


def test_bundle_dependencies_are_the_core_runtime_only() -> None:
    project = bundling.Project.read()
    pyproject = tomllib.loads((project.root / "pyproject.toml").read_text(encoding="utf-8"))
    assert project.dependencies == tuple(pyproject["project"]["dependencies"])
    names = {d.split(">")[0].split("=")[0].split("[")[0].strip().lower() for d in project.dependencies}
    assert not names & {"torch", "sentence-transformers", "numpy", "fugashi", "unidic-lite"}
    assert project.packages_for("bot") == ["kotae", "bot"]
    assert project.packages_for("ingest") == ["kotae", "ingest"]
    assert project.force_include == {"prompts": "kotae/_prompts"}


def test_each_bundle_leaves_out_what_its_function_never_imports() -> None:
    project = bundling.Project.read()
    bot = {bundling.requirement_name(d) for d in project.dependencies_for("bot")}
    ingest = {bundling.requirement_name(d) for d in project.dependencies_for("ingest")}
    assert {"boto3", "jinja2", "pydantic", "aws-lambda-powertools", "opensearch-py"} <= bot & ingest
    assert "slack-bolt" in bot and "slack-bolt" not in ingest
    assert not (bot | ingest) & {"typer", "rich", "requests-aws4auth"}
    assert bundling.dependency_key(project, "bot", True) != bundling.dependency_key(project, "ingest", True)


@pytest.mark.parametrize(
    ("requirement", "name"),
    [("Slack_Bolt>=1.21", "slack-bolt"), ("moto[dynamodb]>=5", "moto"), ("rich", "rich"), ("a.b ; python_version<'4'", "a-b")],
)
def test_requirement_names_are_normalized(requirement: str, name: str) -> None:
    assert bundling.requirement_name(requirement) == name


def _fake_project(root: Path) -> bundling.Project:
    for package in ("kotae", "bot", "ingest"):
        (root / package / "__pycache__").mkdir(parents=True)
        (root / package / "__init__.py").write_text(f"NAME = {package!r}\n")
        (root / package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"")
    (root / "prompts" / "answer").mkdir(parents=True)
    (root / "prompts" / "answer" / "v1.j2").write_text("{% block system %}{% endblock %}")
    return bundling.Project(root, ("boto3>=1.34",), ("kotae", "bot", "ingest"), {"prompts": "kotae/_prompts"})


def test_build_bundle_lays_out_the_wheel_contents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(bundling, "install_dependencies", lambda *args: calls.append(args))
    project = _fake_project(tmp_path / "src")
    out = bundling.build_bundle("bot", tmp_path / "out", project=project, include_boto3=False)
    assert calls == [(project, "bot", out, False)]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "bot/__init__.py",
        "kotae/__init__.py",
        "kotae/_prompts/answer/v1.j2",
    ]
    with pytest.raises(ValueError, match="unknown bundle"):
        bundling.build_bundle("web", tmp_path / "other", project=project)


def test_source_hash_follows_the_inputs(tmp_path: Path) -> None:
    project = _fake_project(tmp_path)
    first = bundling.source_hash(project, "bot", True)
    assert first == bundling.source_hash(project, "bot", True)
    assert first != bundling.source_hash(project, "ingest", True)
    assert first != bundling.source_hash(project, "bot", False)
    (tmp_path / "ingest" / "__init__.py").write_text("changed")  # not in the bot bundle
    assert first == bundling.source_hash(project, "bot", True)
    (tmp_path / "prompts" / "answer" / "v1.j2").write_text("changed")
    assert first != bundling.source_hash(project, "bot", True)


def test_local_bundling_runs_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CDK calls LocalPipBundling.try_bundle through jsii; Docker is never involved."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_lambda as lambda_
    from kotae_infra import assets

    built = []

    def fake_build(bundle: str, out_dir: Path, *, include_boto3: bool) -> Path:
        built.append((bundle, include_boto3))
        (out_dir / bundle).mkdir(parents=True)
        (out_dir / bundle / "handler.py").write_text("def handler(event, context):\n    return {}\n")
        return out_dir

    monkeypatch.setattr(assets, "build_bundle", fake_build)
    app = App(outdir=str(tmp_path / "out"))
    stack = Stack(app, "Bundled")
    lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="bot.handler.handler",
        code=assets.lambda_code("bot", mode="local", asset_dir="", include_boto3=False),
    )
    app.synth()
    assert built == [("bot", False)]
    staged = [p for p in (tmp_path / "out").glob("asset.*/bot/handler.py")]
    assert len(staged) == 1


def test_settings_and_infra_agree_on_the_default_model() -> None:
    from kotae_infra.config import DEFAULTS

    from kotae.settings import Settings

    assert DEFAULTS["kotae:generationModelId"] == Settings().generation_model_id
