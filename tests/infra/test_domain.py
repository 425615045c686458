"""The managed-domain option (``kotae:search=domain``) with a plain (non-profile) model id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="needs the infra extra: pip install -e '.[infra]'")

from tests.infra.conftest import (
    ACCOUNT,
    REGION,
    as_list,
    logical_id,
    nag_findings,
    render,
    role_statements,
    run_cfn_lint,
    statements,
    synth,
)

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
EXTRA = "anthropic.claude-sonnet-4-5-20250929-v1:0"  # a channel profile's model
ES_ACTIONS = {"es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete"}


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, dict[str, Any]]:
    context = {
        "kotae:search": "domain",
        "kotae:domainDataNodes": "2",
        "kotae:generationModelId": MODEL,
        "kotae:extraModelIds": f"{EXTRA},{MODEL}",  # a repeat of the main model adds nothing
    }
    return synth(context, tmp_path_factory.mktemp("cdk"))


def test_no_serverless_resources(synthesized: tuple[Any, Any, dict[str, Any]]) -> None:
    _, template, data = synthesized
    for kind in ("Collection", "SecurityPolicy", "AccessPolicy"):
        template.resource_count_is(f"AWS::OpenSearchServerless::{kind}", 0)
    assert not [st for _, st in statements(data) if "aoss:APIAccessAll" in as_list(st["Action"])]
    assert "DomainEndpoint" in data["Outputs"] and "CollectionEndpoint" not in data["Outputs"]
    assert "DomainErrorLogGroup" in data["Outputs"]


def test_domain_is_encrypted_https_only_and_zone_aware(synthesized: tuple[Any, Any, dict[str, Any]]) -> None:
    _, template, _ = synthesized
    template.has_resource_properties(
        "AWS::OpenSearchService::Domain",
        {
            "EncryptionAtRestOptions": {"Enabled": True},
            "NodeToNodeEncryptionOptions": {"Enabled": True},
            "DomainEndpointOptions": {
                "EnforceHTTPS": True,
                "TLSSecurityPolicy": "Policy-Min-TLS-1-2-2019-07",
            },
            "ClusterConfig": {"InstanceCount": 2, "ZoneAwarenessEnabled": True},
        },
    )


def test_es_http_actions_only_on_the_domain(synthesized: tuple[Any, Any, dict[str, Any]]) -> None:
    stack, _, data = synthesized
    domain = logical_id(stack, stack.search.domain)

    def es_grants(function: Any) -> list[dict[str, Any]]:
        return [
            st for st in role_statements(data, logical_id(stack, function.role)) if "es:" in str(st["Action"])
        ]

    (writes,) = es_grants(stack.ingest.function)
    assert set(as_list(writes["Action"])) == ES_ACTIONS
    assert sorted(render(r) for r in writes["Resource"]) == [f"<{domain}.Arn>", f"<{domain}.Arn>/*"]
    # The bot only reads: GET/HEAD, and POST to the alias's search and count APIs, never PUT,
    # DELETE or a POST to _bulk.
    reads, posts = es_grants(stack.bot.function)
    assert set(as_list(reads["Action"])) == {"es:ESHttpGet", "es:ESHttpHead"}
    assert as_list(posts["Action"]) == ["es:ESHttpPost"]
    assert sorted(render(r) for r in posts["Resource"]) == [
        f"<{domain}.Arn>/kotae-knowledge/_count",
        f"<{domain}.Arn>/kotae-knowledge/_search",
    ]
    for function in (stack.bot.function, stack.ingest.function):
        env = data["Resources"][logical_id(stack, function)]["Properties"]["Environment"]["Variables"]
        assert env["KOTAE_OPENSEARCH_AUTH"] == "sigv4-es"
        assert render(env["KOTAE_OPENSEARCH_ENDPOINT"]) == f"https://<{domain}.DomainEndpoint>"


def test_plain_model_ids_grant_their_regional_arns_only(synthesized: tuple[Any, Any, dict[str, Any]]) -> None:
    stack, _, data = synthesized
    bot = role_statements(data, logical_id(stack, stack.bot.function.role))
    claude = [st for st in bot if "bedrock:InvokeModelWithResponseStream" in as_list(st["Action"])]
    assert sorted(r for st in claude for r in as_list(st["Resource"])) == [
        f"arn:aws:bedrock:{REGION}::foundation-model/{MODEL}",
        f"arn:aws:bedrock:{REGION}::foundation-model/{EXTRA}",
    ]
    assert all("Condition" not in st for st in claude)


def test_cfn_lint(synthesized: tuple[Any, Any, dict[str, Any]], tmp_path: Path) -> None:
    run_cfn_lint(synthesized[2], tmp_path / "template.json")


def test_error_logs_go_to_a_log_group_with_a_native_resource_policy(
    synthesized: tuple[Any, Any, dict[str, Any]],
) -> None:
    stack, template, data = synthesized
    group = logical_id(stack, stack.search.error_logs)
    domain = data["Resources"][logical_id(stack, stack.search.domain)]
    assert domain["Properties"]["LogPublishingOptions"] == {
        "ES_APPLICATION_LOGS": {"CloudWatchLogsLogGroupArn": {"Fn::GetAtt": [group, "Arn"]}, "Enabled": True}
    }
    assert data["Resources"][group]["Properties"]["RetentionInDays"] == 30
    # A plain AWS::Logs::ResourcePolicy, not CDK's Lambda-backed custom resource: the only
    # functions are kotae's two, and nothing is Custom::.
    (policy_id,) = [k for k, v in data["Resources"].items() if v["Type"] == "AWS::Logs::ResourcePolicy"]
    assert not [v["Type"] for v in data["Resources"].values() if v["Type"].startswith("Custom::")]
    template.resource_count_is("AWS::Lambda::Function", 2)
    (statement,) = json.loads(render(data["Resources"][policy_id]["Properties"]["PolicyDocument"]))[
        "Statement"
    ]
    assert statement["Principal"] == {"Service": "es.amazonaws.com"}
    assert sorted(as_list(statement["Action"])) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == f"<{group}.Arn>"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:es:{REGION}:{ACCOUNT}:domain/*"},
    }
    # OpenSearch checks that it may write to the group when the domain is created.
    assert policy_id in domain["DependsOn"]


def test_aws_solutions_checks(synthesized: tuple[Any, Any, dict[str, Any]]) -> None:
    assert nag_findings(synthesized[0]) == []


@pytest.fixture(scope="module")
def single_node(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, dict[str, Any]]:
    return synth({"kotae:search": "domain"}, tmp_path_factory.mktemp("cdk"))


def test_default_domain_is_one_node_in_one_zone_and_says_so(
    single_node: tuple[Any, Any, dict[str, Any]],
) -> None:
    stack, template, _ = single_node
    template.has_resource_properties(
        "AWS::OpenSearchService::Domain",
        {
            "ClusterConfig": {
                "InstanceCount": 1,
                "ZoneAwarenessEnabled": False,
                "DedicatedMasterEnabled": False,
            }
        },
    )
    # One AZ is acknowledged (AwsSolutions-OS7) only here, not with two zone-aware nodes.
    assert nag_findings(stack) == []
