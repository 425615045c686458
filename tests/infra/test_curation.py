"""The bot's permissions for the knowledge loop: one PutItem on the knowledge table, and Athena
over the two log tables in the stack's workgroup, nothing wider."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="needs the infra extra: pip install -e '.[infra]'")

from tests.infra.conftest import ACCOUNT, REGION, as_list, render, role_statements
from tests.infra.test_stack import Synth, s  # noqa: F401  (the synthesized default stack)


def grants(s: Synth, prefix: str) -> dict[str, list[str]]:  # noqa: F811
    """action -> resources, for the bot role's actions of one service."""
    found: dict[str, list[str]] = {}
    for st in role_statements(s.data, s.id(s.stack.bot.function.role)):
        for action in as_list(st["Action"]):
            if action.startswith(prefix):
                found.setdefault(action, []).extend(render(r) for r in as_list(st["Resource"]))
    return found


def test_athena_only_in_the_stack_workgroup(s: Synth) -> None:  # noqa: F811
    athena = grants(s, "athena:")
    workgroup = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/kotae"
    assert athena == {
        action: [workgroup]
        for action in (
            "athena:StartQueryExecution",
            "athena:GetQueryExecution",
            "athena:GetQueryResults",
            "athena:StopQueryExecution",
        )
    }


def test_glue_reads_only_the_log_tables(s: Synth) -> None:  # noqa: F811
    glue = grants(s, "glue:")
    catalog = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    expected = [
        f"{catalog}:catalog",
        f"{catalog}:database/kotae_logs",
        f"{catalog}:table/kotae_logs/answers",
        f"{catalog}:table/kotae_logs/feedback",
    ]
    assert set(glue) == {"glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"}
    for resources in glue.values():
        assert resources == expected


def test_bucket_level_reads_on_the_log_bucket_only(s: Synth) -> None:  # noqa: F811
    bucket = f"<{s.id(s.stack.answer_logs.bucket)}.Arn>"
    s3 = grants(s, "s3:")
    for action in ("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"):
        assert s3[action] == [bucket]
    for action in ("s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"):
        assert s3[action] == [f"{bucket}/athena-results/*"]


def test_bot_environment_names_the_workgroup_and_database(s: Synth) -> None:  # noqa: F811
    env: dict[str, Any] = s.props(s.stack.bot.function)["Environment"]["Variables"]
    assert env["KOTAE_ATHENA_DATABASE"] == "kotae_logs"
    assert env["KOTAE_ATHENA_WORKGROUP"] == "kotae"
