"""IAM statements that CDK's grant helpers would make too wide.

Bedrock: a cross-Region inference profile id (``jp.``, ``us.``, ``apac.``, ``global.`` …) is
invoked through the profile ARN in this Region, and Bedrock then checks the caller's access to
the foundation model in whichever destination Region serves the call. So the role gets the
profile ARN plus the foundation-model ARN with a Region wildcard (a resource wildcard, never an
action wildcard), and the second statement only applies through that profile
(``bedrock:InferenceProfileArn`` condition). A plain model id gets its one Regional ARN.
https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html
https://docs.aws.amazon.com/bedrock/latest/userguide/cross-region-inference.html
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from .config import ContextError, split_profile

INVOKE = "bedrock:InvokeModel"
INVOKE_STREAM = "bedrock:InvokeModelWithResponseStream"


def model_arns(stack: Stack, model_id: str) -> tuple[str | None, list[str]]:
    """``(inference profile ARN or None, foundation-model ARNs)`` for a configured model id."""
    is_profile, _, base = split_profile(model_id)
    if not is_profile:
        arn = stack.format_arn(
            service="bedrock", account="", resource="foundation-model", resource_name=model_id
        )
        return None, [arn]
    profile = stack.format_arn(service="bedrock", resource="inference-profile", resource_name=model_id)
    # Region "*": the profile may route to any Region of its geography (all commercial
    # Regions for "global."), and "*" also matches the Region-less ARN global profiles use.
    return profile, [f"arn:{stack.partition}:bedrock:*::foundation-model/{base}"]


def invoke_model_statements(stack: Stack, model_id: str, actions: list[str]) -> list[iam.PolicyStatement]:
    """Statements allowing ``actions`` on exactly the ARNs of ``model_id`` (see module doc)."""
    profile, foundation = model_arns(stack, model_id)
    if profile is None:
        return [iam.PolicyStatement(actions=actions, resources=foundation)]
    return [
        iam.PolicyStatement(actions=actions, resources=[profile]),
        iam.PolicyStatement(
            actions=actions,
            resources=foundation,
            conditions={"StringEquals": {"bedrock:InferenceProfileArn": profile}},
        ),
    ]


# Regions where each reranker model can be called with Rerank.
# https://docs.aws.amazon.com/bedrock/latest/userguide/rerank-supported.html
RERANK_REGIONS = {
    "amazon.rerank-v1:0": ("ap-northeast-1", "ca-central-1", "eu-central-1", "us-west-2"),
    "cohere.rerank-v3-5:0": ("ap-northeast-1", "ca-central-1", "eu-central-1", "us-east-1", "us-west-2"),
}


def rerank_statements(stack: Stack, model_id: str) -> list[iam.PolicyStatement]:
    """What a standalone Rerank call needs: ``bedrock:Rerank``, and ``bedrock:InvokeModel`` on
    the reranker model, here exactly its foundation-model ARN in this Region. Rerank itself
    names no resource (its model is in the request body), so IAM takes only "*" for it.
    https://docs.aws.amazon.com/bedrock/latest/userguide/rerank-prereq.html
    """
    if not Token.is_unresolved(stack.region) and stack.region not in RERANK_REGIONS[model_id]:
        raise ContextError(
            f"kotae:rerankModelId: {model_id} cannot be called in {stack.region} "
            f"(it can in {', '.join(RERANK_REGIONS[model_id])})"
        )
    model = stack.format_arn(service="bedrock", account="", resource="foundation-model", resource_name=model_id)
    return [
        iam.PolicyStatement(actions=["bedrock:Rerank"], resources=["*"]),
        iam.PolicyStatement(actions=[INVOKE], resources=[model]),
    ]


def function_arn(stack: Stack, function_name: str) -> str:
    """A function's ARN from its (explicit) name, so a role can name its own function.

    Referencing ``Function.function_arn`` from the function's own role policy would be a
    circular dependency (the function depends on its role's policy).
    """
    return stack.format_arn(
        service="lambda",
        resource="function",
        resource_name=function_name,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def put_objects(bucket: s3.IBucket, prefixes: list[str]) -> iam.PolicyStatement:
    """s3:PutObject under the given prefixes only (``Bucket.grant_put`` adds ``s3:Abort*``)."""
    return iam.PolicyStatement(
        actions=["s3:PutObject"], resources=[bucket.arn_for_objects(f"{p.strip('/')}/*") for p in prefixes]
    )
