"""The batch inference construct: bucket, Bedrock service role, operator policy."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import ACCOUNT, as_list, logical_id, nag_findings, render, synth


@pytest.fixture(scope="module")
def s(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any]]:
    stack, _, data = synth({}, tmp_path_factory.mktemp("cdk"))
    return stack, data


def _resource(s: tuple[Any, dict[str, Any]], construct: Any) -> dict[str, Any]:
    stack, data = s
    return data["Resources"][logical_id(stack, construct)]["Properties"]


def test_bucket_is_private_encrypted_logged_and_expires(s) -> None:
    bucket = _resource(s, s[0].batch.bucket)
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["LoggingConfiguration"]["LogFilePrefix"] == "batch/"
    assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 7
    policy = _resource(s, s[0].batch.bucket.policy)
    denies = [st for st in policy["PolicyDocument"]["Statement"] if st["Effect"] == "Deny"]
    assert denies and denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_service_role_is_trusted_by_bedrock_for_this_accounts_jobs_only(s) -> None:
    role = _resource(s, s[0].batch.role)
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert render(trust["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(":model-invocation-job/*")


def test_service_role_reads_and_writes_the_prefix_and_invokes_titan_only(s) -> None:
    policy = _resource(s, s[0].batch.role.node.find_child("DefaultPolicy"))
    grants = {
        tuple(as_list(st["Action"])): [render(r) for r in as_list(st["Resource"])]
        for st in policy["PolicyDocument"]["Statement"]
    }
    assert grants[("bedrock:InvokeModel",)] == [
        "arn:aws:bedrock:ap-northeast-1::foundation-model/amazon.titan-embed-text-v2:0"
    ]
    assert grants[("s3:GetObject", "s3:PutObject")][0].endswith("/kotae-batch/*")


def test_operator_policy_passes_the_role_to_bedrock_only(s) -> None:
    _, data = s
    policy = _resource(s, s[0].batch.operator_policy)
    statements = policy["PolicyDocument"]["Statement"]
    (passing,) = [st for st in statements if st["Action"] == "iam:PassRole"]
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}
    actions = {a for st in statements for a in as_list(st["Action"])}
    assert {
        "bedrock:CreateModelInvocationJob",
        "bedrock:GetModelInvocationJob",
        "bedrock:ListModelInvocationJobs",
    } <= actions
    assert {"BatchBucket", "BatchRoleArn", "BatchOperatorPolicyArn"} <= set(data["Outputs"])


def test_no_unacknowledged_findings(s) -> None:
    stack, _ = s
    assert [f for f in nag_findings(stack) if "Batch" in f] == []
