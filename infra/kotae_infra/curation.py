"""What the bot needs for the knowledge loop in Slack (README "Keeping the knowledge").

"Save as FAQ" writes one item to the knowledge table (PutItem, and DescribeTable for its key
schema); the table's stream then indexes it like any other write. The App Home figures come from
Athena over the answer and feedback logs, in the stack's workgroup, whose results the workgroup
keeps under ``athena-results/`` of the log bucket. Athena reads the tables' objects and writes
the results as the caller, so the role gets exactly that: the Glue catalog entries of the two
log tables, the objects under their prefixes, and the results prefix
(https://repost.aws/knowledge-center/athena-access-iam,
https://docs.aws.amazon.com/athena/latest/ug/workgroups-iam-policy.html).
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from .data import DataStores
from .findings import acknowledge_wildcard_resources
from .logs import ATHENA_RESULTS_PREFIX, LOG_TABLES, AnswerLogs

ATHENA_QUERY = [
    "athena:StartQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:StopQueryExecution",
]
GLUE_READ = ["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"]
RESULT_OBJECTS = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
BUCKET_READ = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]


def curation_environment(answer_logs: AnswerLogs, database: str) -> dict[str, str]:
    """The App Home's Athena settings for the bot."""
    return {"KOTAE_ATHENA_DATABASE": database, "KOTAE_ATHENA_WORKGROUP": answer_logs.workgroup.name}


def grant_curation(role: iam.Role, data: DataStores, answer_logs: AnswerLogs, database: str) -> None:
    """PutItem on the knowledge table, and Athena queries of the two log tables."""
    stack = Stack.of(role)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["dynamodb:PutItem", "dynamodb:DescribeTable"], resources=[data.knowledge.table_arn]
        )
    )
    workgroup = stack.format_arn(
        service="athena", resource="workgroup", resource_name=answer_logs.workgroup.name
    )
    role.add_to_principal_policy(iam.PolicyStatement(actions=ATHENA_QUERY, resources=[workgroup]))
    glue = [
        stack.format_arn(service="glue", resource="catalog"),
        stack.format_arn(service="glue", resource="database", resource_name=database),
        *(
            stack.format_arn(service="glue", resource="table", resource_name=f"{database}/{t}")
            for t in LOG_TABLES
        ),
    ]
    role.add_to_principal_policy(iam.PolicyStatement(actions=GLUE_READ, resources=glue))
    bucket = answer_logs.bucket
    role.add_to_principal_policy(iam.PolicyStatement(actions=BUCKET_READ, resources=[bucket.bucket_arn]))
    reads = iam.PolicyStatement(
        actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{kind}/*") for kind in LOG_TABLES]
    )
    results = iam.PolicyStatement(
        actions=RESULT_OBJECTS, resources=[bucket.arn_for_objects(f"{ATHENA_RESULTS_PREFIX}*")]
    )
    for statement, why in (
        (
            reads,
            "s3:GetObject under answers/ and feedback/ only: Athena reads the log tables' objects as the caller",
        ),
        (
            results,
            "the workgroup's results prefix only (athena-results/): Athena writes each result as the caller",
        ),
    ):
        role.add_to_principal_policy(statement)
        acknowledge_wildcard_resources(role, statement, why)
