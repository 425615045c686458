"""The scanners catch what nobody accepted: cdk-nag on small stacks made to violate its rules,
and infra/scan.py's comparison of checkov's failures with the skip list."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="needs the infra extra: pip install -e '.[infra]'")

from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from constructs import Construct
from kotae_infra.findings import acknowledge, acknowledge_wildcard_resources, flatten

from tests.infra.conftest import nag_findings

SHARED_BUCKET = "arn:aws:s3:::shared-bucket/*"


def rules(findings: list[str]) -> set[str]:
    return {line.split()[1] for line in findings}


def checked(build: Any) -> list[str]:
    """Findings of a one-stack app that ``build(stack)`` fills, after synthesis."""
    stack = Stack(App(), "Probe", env={"account": "123456789012", "region": "ap-northeast-1"})
    build(stack)
    Template.from_stack(stack)
    return nag_findings(stack)


# --- cdk-nag ----------------------------------------------------------------------------------


def test_a_new_finding_fails() -> None:
    # GIVEN a bucket with none of kotae's settings
    # WHEN the AwsSolutions checks run
    findings = checked(lambda stack: s3.Bucket(stack, "Plain"))
    # THEN the missing access logs and the missing SSL-only policy are both reported
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= rules(findings)
    assert all(" on Probe/Plain/Resource: " in line for line in findings)


def test_an_acknowledgement_covers_its_rule_only() -> None:
    def build(stack: Stack) -> None:
        acknowledge(s3.Bucket(stack, "Plain"), "AwsSolutions-S1", "a test bucket")

    findings = rules(checked(build))
    assert "AwsSolutions-S1" not in findings
    assert "AwsSolutions-S10" in findings


def test_an_acknowledgement_covers_the_constructs_below_and_nothing_beside() -> None:
    def build(stack: Stack) -> None:
        group = Construct(stack, "Group")
        s3.Bucket(group, "Inside")
        s3.Bucket(stack, "Beside")
        acknowledge(group, "AwsSolutions-S1", "a test group")

    s1 = [line for line in checked(build) if line.split()[1] == "AwsSolutions-S1"]
    assert [line.split()[3] for line in s1] == ["Probe/Beside/Resource:"]


def test_each_wildcard_resource_is_acknowledged_by_itself() -> None:
    # GIVEN a role with two acknowledged wildcard resources (one of them a reference) and a
    # third wildcard added later without an acknowledgement
    def build(stack: Stack) -> None:
        bucket = s3.Bucket(stack, "Logs")
        role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        accepted = iam.PolicyStatement(
            actions=["s3:PutObject"], resources=[bucket.arn_for_objects("answers/*"), SHARED_BUCKET]
        )
        role.add_to_principal_policy(accepted)
        acknowledge_wildcard_resources(role, accepted, "keys are made at run time")
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects("*")])
        )

    # THEN only the unacknowledged one is reported, in cdk-nag's notation of the reference
    iam5 = [line.split()[1] for line in checked(build) if line.split()[1].startswith("AwsSolutions-IAM5")]
    assert len(iam5) == 1
    assert iam5[0].startswith("AwsSolutions-IAM5[Resource::<Logs") and iam5[0].endswith(".Arn>/*]")


def test_statements_without_wildcards_need_no_acknowledgement() -> None:
    def build(stack: Stack) -> None:
        role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        statement = iam.PolicyStatement(
            actions=["sqs:SendMessage"], resources=["arn:aws:sqs:ap-northeast-1:1:q"]
        )
        role.add_to_principal_policy(statement)
        acknowledge_wildcard_resources(role, statement, "unused")
        assert not [m for m in role.node.metadata if m.type == "aws:cdk:acknowledged-rules"]

    assert not [line for line in checked(build) if "IAM5" in line]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param("arn:aws:s3:::b/*", "arn:aws:s3:::b/*", id="literal"),
        pytest.param({"Ref": "Topic"}, "<Topic>", id="ref"),
        pytest.param({"Fn::GetAtt": ["Bucket", "Arn"]}, "<Bucket.Arn>", id="getatt"),
        pytest.param(
            {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/answers/*"]]},
            "<Bucket.Arn>/answers/*",
            id="join",
        ),
        pytest.param(
            {"Fn::Sub": "arn:${AWS::Partition}:s3:::b/*"}, "arn:<AWS::Partition>:s3:::b/*", id="sub"
        ),
    ],
)
def test_flatten_writes_references_as_cdk_nag_does(value: Any, text: str) -> None:
    assert flatten(value) == text


def test_flatten_refuses_what_it_cannot_write() -> None:
    with pytest.raises(ValueError, match="cannot write"):
        flatten({"Fn::Select": [0, ["a"]]})


# --- checkov: the skip list and the comparison (infra/scan.py) ---------------------------------


def test_every_skip_names_a_check_resources_and_a_reason() -> None:
    import scan

    skips = scan.load_skips()
    assert len(skips) >= 10
    for skip in skips:
        assert skip.check.startswith("CKV_AWS_") and skip.resources
        assert len(skip.reason) > 40, skip.check  # a reason, not a label
        assert all("/" in r and not r.startswith("Kotae/") for r in skip.resources)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('[[skip]]\ncheck = "CKV_AWS_1"\nresources = ["A/Resource"]\n', id="no-reason"),
        pytest.param('[[skip]]\ncheck = "CKV_AWS_1"\nreason = "why"\n', id="no-resources"),
        pytest.param('[[skip]]\nresources = ["A/Resource"]\nreason = "why"\n', id="no-check"),
        pytest.param(
            '[[skip]]\ncheck = "CKV_AWS_1"\nresources = ["A/Resource"]\nreason = "why"\n' * 2, id="twice"
        ),
    ],
)
def test_a_bad_skip_list_is_refused(tmp_path: Any, text: str) -> None:
    import scan

    path = tmp_path / "skips.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="skips.toml"):
        scan.load_skips(path)


def test_a_failure_not_listed_for_its_resource_fails_and_a_stale_skip_too() -> None:
    import scan

    skips = [
        scan.Skip("CKV_AWS_117", ("Bot/Function/Resource", "Ingest/Function/Resource"), "no VPC"),
        scan.Skip("CKV_AWS_28", ("Data/Idempotency/Resource",), "claims expire"),
    ]
    findings = [
        scan.Finding("serverless", "CKV_AWS_117", "Bot/Function/Resource", "VPC"),
        scan.Finding("domain", "CKV_AWS_117", "Bot/Function/Resource", "VPC"),
        scan.Finding("serverless", "CKV_AWS_117", "Ingest/Function/Resource", "VPC"),
        # the same check on a resource nobody accepted it for: a new table without PITR
        scan.Finding("serverless", "CKV_AWS_28", "Data/NewTable/Resource", "PITR"),
    ]
    unexpected, unused = scan.compare(findings, skips)
    assert unexpected == [findings[3]]
    assert unused == [("CKV_AWS_28", "Data/Idempotency/Resource")]
    assert scan.compare(findings[:3], skips[:1]) == ([], [])


def test_checkov_failures_are_located_by_variant_and_construct_path(tmp_path: Any) -> None:
    import scan

    serverless, domain = tmp_path / "serverless.json", tmp_path / "domain.json"
    written = {
        "serverless": (serverless, {"BotFunction8B9DF974": "Bot/Function/Resource"}),
        "domain": (domain, {"SearchDomain62FD613E": "Search/Domain/Resource"}),
    }
    report = {
        "results": {
            "failed_checks": [
                {
                    "check_id": "CKV_AWS_117",
                    "check_name": "VPC",
                    "file_abs_path": str(serverless),
                    "resource": "AWS::Lambda::Function.BotFunction8B9DF974",
                },
                {
                    "check_id": "CKV_AWS_317",
                    "check_name": "audit logs",
                    "file_abs_path": str(domain),
                    "resource": "AWS::OpenSearchService::Domain.SearchDomain62FD613E",
                },
            ]
        }
    }
    assert scan.findings_of(report, written) == [
        scan.Finding("serverless", "CKV_AWS_117", "Bot/Function/Resource", "VPC"),
        scan.Finding("domain", "CKV_AWS_317", "Search/Domain/Resource", "audit logs"),
    ]
