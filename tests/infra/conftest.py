"""Shared helpers for the CDK tests: synthesize the real app, walk its IAM statements.

Synthesis is slow (a Node.js process behind jsii), so each test module synthesizes once with
a module-scoped fixture. Lambda code is the stub asset (``kotae:bundle=skip``): no pip runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

INFRA = Path(__file__).resolve().parents[2] / "infra"
sys.path.insert(0, str(INFRA))
# jsii prints a banner on every start when Node.js is past its end of life; not our concern here.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"


def synth(context: dict[str, Any], outdir: Path) -> tuple[Any, Any, dict[str, Any]]:
    """``(stack, assertions.Template, template dict)`` for the app with ``context`` added."""
    from aws_cdk.assertions import Template
    from kotae_infra.stack import build_app

    _, stack = build_app({"kotae:bundle": "skip", **context}, outdir=str(outdir), account=ACCOUNT)
    template = Template.from_stack(stack)
    return stack, template, template.to_json()


def logical_id(stack: Any, construct: Any) -> str:
    """The CloudFormation logical id of an L2 construct (its default child) or an L1."""
    resource = getattr(construct.node, "default_child", None) or construct
    return stack.get_logical_id(resource)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement of the template: policies, managed policies, roles' inline policies."""
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for statement in props["PolicyDocument"]["Statement"]:
                yield name, statement
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield name, statement


def role_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Statements of the policies attached to one role (by its logical id)."""
    found = []
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in props.get("Roles", []):
            found.extend(props["PolicyDocument"]["Statement"])
    return found


def render(value: Any) -> str:
    """A CloudFormation string expression as text: Ref/GetAtt become ``<Id>``/``<Id.Attr>``."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part) for part in parts)
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    raise AssertionError(f"unexpected expression {value!r}")


def run_cfn_lint(template: dict[str, Any], path: Path) -> None:
    """Lint the template with cfn-lint (the venv's executable); fail on any finding.

    W3005 is ignored: CDK gives each function an explicit DependsOn on its role and role
    policy so the policy exists before the function runs; the role half repeats the
    dependency the Role GetAtt already implies, which cfn-lint reports as redundant.
    """
    import json
    import shutil
    import subprocess

    executable = Path(sys.executable).parent / "cfn-lint"
    command = str(executable) if executable.exists() else shutil.which("cfn-lint")
    if command is None:
        pytest.skip("cfn-lint is not installed (pip install -e '.[infra]')")
    path.write_text(json.dumps(template), encoding="utf-8")
    result = subprocess.run(
        [command, "--format", "parseable", "--regions", REGION, "--ignore-checks", "W3005", "--", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, f"cfn-lint found problems:\n{result.stdout}{result.stderr}"


def nag_findings(scope: Any) -> list[str]:
    """cdk-nag's AwsSolutions findings (errors and warnings) under ``scope`` that the stack code
    has not acknowledged, one line each. Call it after synthesis (``Template.from_stack``), so
    that every aspect has run and the tree is what CloudFormation gets.

    cdk-nag 3 is a CDK policy-validation plugin; ``validate_scope`` runs its rules on a tree
    directly and honours ``Validations.of(...).acknowledge()`` on each resource and its parents.
    """
    cdk_nag = pytest.importorskip("cdk_nag", reason="needs the infra extra: pip install -e '.[infra]'")
    report = cdk_nag.AwsSolutionsChecks(verbose=True).validate_scope(scope)
    return [
        f"{violation.severity} {violation.rule_name} on {resource.construct_path}: {violation.description}"
        for violation in report.violations
        for resource in violation.violating_resources
    ]
