"""Acknowledged findings of cdk-nag's AwsSolutions checks, recorded next to the code they concern.

An acknowledgement is CDK's own ``Validations.of(construct).acknowledge()``: metadata on the
construct that cdk-nag (v3) reads for the construct and every resource below it. The stack code
therefore never imports cdk_nag; only the tests do (tests/infra/conftest.py), so a synth for a
deploy or a bundle does not need it. A finding with no acknowledgement fails those tests.

Rule ids are cdk-nag's: ``AwsSolutions-S1``, or ``AwsSolutions-IAM5[Resource::<arn>]`` for a
single finding of a rule that reports one per wildcard. cdk-nag matches the granular id exactly,
so each wildcard resource is acknowledged by itself and a new one is reported.
https://github.com/cdklabs/cdk-nag/blob/main/RULES.md

checkov's accepted findings are in infra/checkov-skips.toml (scanned by infra/scan.py).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Accept the finding ``rule`` on ``construct`` and everything below it, for ``reason``."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def acknowledge_wildcard_resources(scope: IConstruct, statement: iam.PolicyStatement, reason: str) -> None:
    """Accept IAM5 for each resource of ``statement`` that contains ``*`` (a no-op for none).

    ``scope`` is the role (or policy) the statement goes into. The resource is written as
    cdk-nag writes it in the finding: references become ``<LogicalId>`` / ``<LogicalId.Attr>``.
    """
    stack = Stack.of(scope)
    for resource in statement.resources:
        text = flatten(stack.resolve(resource))
        if "*" in text:
            acknowledge(scope, f"AwsSolutions-IAM5[Resource::{text}]", reason)


def flatten(value: Any) -> str:
    """A resolved CloudFormation string expression as one line of text (cdk-nag's notation)."""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(flatten(part) for part in parts)
    if "Fn::Sub" in value:
        return flatten(value["Fn::Sub"])
    if "Fn::GetAtt" in value:
        resource, attribute = value["Fn::GetAtt"]
        return f"<{flatten(resource)}.{flatten(attribute)}>"
    if "Ref" in value:
        return f"<{flatten(value['Ref'])}>"
    raise ValueError(f"cannot write {value!r} as a cdk-nag finding")
