"""The two Lambda functions, their roles, log groups, Function URL and stream mapping.

Roles are created first and given to the functions, so the search construct can name them in
its data-access policy before the functions (which need the search endpoint) exist. Each role
carries only inline statements scoped to its resources; no managed policy is attached (the
basic execution policy would allow writing to every log group).
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .assets import lambda_code
from .config import KotaeConfig
from .curation import curation_environment, grant_curation
from .data import DataStores
from .findings import acknowledge, acknowledge_wildcard_resources
from .logs import AnswerLogs
from .permissions import (
    INVOKE,
    INVOKE_STREAM,
    function_arn,
    invoke_model_statements,
    put_objects,
    rerank_statements,
)
from .search import DomainSearch, ServerlessSearch

Search = ServerlessSearch | DomainSearch
DATA_DIR = "/tmp/kotae"  # the only writable path in Lambda


def lambda_role(scope: Construct, construct_id: str, description: str) -> iam.Role:
    return iam.Role(
        scope, construct_id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description
    )


class _KotaeFunction(Construct):
    """A Python 3.12 arm64 function with its own log group (retention set) and settings."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: KotaeConfig,
        bundle: str,
        role: iam.Role,
        search: Search,
        writes_index: bool,
        memory: int,
        timeout: int,
        environment: dict[str, str],
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.function_name = f"{config.prefix}-{bundle}"
        self.log_group = logs.LogGroup(self, "Logs")
        # Any of CloudWatch's allowed periods (validated in config), set on the L1 resource.
        self.log_group.node.default_child.retention_in_days = config.log_retention_days  # type: ignore[union-attr]
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        # Both functions embed queries or documents with Titan (InvokeModel only).
        for statement in invoke_model_statements(stack, config.embedding_model_id, [INVOKE]):
            role.add_to_principal_policy(statement)
        search.grant(role, write=writes_index)  # only ingest writes the index
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=self.function_name,
            description=f"kotae {bundle}",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            handler=f"{bundle}.handler.handler",
            code=lambda_code(
                bundle, mode=config.bundle, asset_dir=config.asset_dir, include_boto3=config.bundle_boto3
            ),
            role=role,
            memory_size=memory,
            timeout=Duration.seconds(timeout),
            reserved_concurrent_executions=reserved_concurrency,
            log_group=self.log_group,
            environment={
                "KOTAE_STORE": "opensearch",
                "KOTAE_EMBEDDER": "titan",
                "KOTAE_AWS_REGION": stack.region,
                "KOTAE_TITAN_MODEL_ID": config.embedding_model_id,
                "KOTAE_EMBEDDING_DIMENSIONS": str(config.embedding_dimensions),
                "KOTAE_OPENSEARCH_ENDPOINT": search.endpoint,
                "KOTAE_OPENSEARCH_INDEX": config.opensearch_index,
                "KOTAE_OPENSEARCH_AUTH": search.auth,
                "KOTAE_DATA_DIR": DATA_DIR,
                "POWERTOOLS_SERVICE_NAME": f"kotae-{bundle}",
                "POWERTOOLS_METRICS_NAMESPACE": "kotae",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **environment,
            },
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "Python 3.12 on purpose: the bundle's wheels are built for cp312 (infra/bundling.py) "
            "and the code is tested on it; a newer runtime is an upgrade of its own",
        )


def guardrail_environment(config: KotaeConfig) -> dict[str, str]:
    """KOTAE_GUARDRAIL_ID/VERSION for the bot when a guardrail is configured."""
    if not config.guardrail_id:
        return {}
    return {"KOTAE_GUARDRAIL_ID": config.guardrail_id, "KOTAE_GUARDRAIL_VERSION": config.guardrail_version}


def rerank_environment(config: KotaeConfig) -> dict[str, str]:
    """KOTAE_RERANKER/KOTAE_RERANK_MODEL_ID for the bot when a reranker is configured."""
    if not config.rerank_model_id:
        return {}
    return {"KOTAE_RERANKER": "bedrock", "KOTAE_RERANK_MODEL_ID": config.rerank_model_id}


def answering_environment(config: KotaeConfig) -> dict[str, str]:
    """The bot's models: the generation model, its guardrail, the reranker, routing."""
    return {
        "KOTAE_GENERATION_MODEL_ID": config.generation_model_id,
        **guardrail_environment(config),
        **rerank_environment(config),
        **config.routing.environment(config.generation_model_id),
    }


def _grant_rerank(stack: Stack, role: iam.Role, config: KotaeConfig) -> None:
    """Rerank with the configured reranker model only (nothing without one)."""
    if not config.rerank_model_id:
        return
    for statement in rerank_statements(stack, config.rerank_model_id):
        role.add_to_principal_policy(statement)
        acknowledge_wildcard_resources(
            role,
            statement,
            "bedrock:Rerank has no resource type (the model is named in the request body), so IAM "
            "accepts only '*'; the model it may use is limited by bedrock:InvokeModel on the one "
            "reranker model ARN (infra/kotae_infra/permissions.py)",
        )


def _grant_generation(stack: Stack, role: iam.Role, config: KotaeConfig) -> None:
    """Claude through Converse/ConverseStream on the configured models only, and ApplyGuardrail
    on the configured guardrail only (Converse with guardrailConfig needs nothing more)."""
    if config.guardrail_id:
        guardrail = stack.format_arn(service="bedrock", resource="guardrail", resource_name=config.guardrail_id)
        role.add_to_principal_policy(iam.PolicyStatement(actions=["bedrock:ApplyGuardrail"], resources=[guardrail]))
    routed = config.routing.models(config.generation_model_id)  # the light and strong models
    for model_id in dict.fromkeys((config.generation_model_id, *routed, *config.extra_model_ids)):
        for statement in invoke_model_statements(stack, model_id, [INVOKE, INVOKE_STREAM]):
            role.add_to_principal_policy(statement)
            acknowledge_wildcard_resources(
                role,
                statement,
                "the Region of an inference profile's foundation model is the one Bedrock "
                "routes the call to, so it is '*'; the statement only applies through the "
                "profile (bedrock:InferenceProfileArn condition, infra/kotae_infra/permissions.py)",
            )


class BotFunction(_KotaeFunction):
    """The Slack bot behind a Function URL; it invokes itself for Bolt's lazy listeners."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: KotaeConfig,
        role: iam.Role,
        search: Search,
        data: DataStores,
        answer_logs: AnswerLogs,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            bundle="bot",
            role=role,
            search=search,
            writes_index=False,
            memory=config.bot_memory_mb,
            timeout=config.bot_timeout_seconds,
            # Anyone can call the public URL. The reserve caps what a flood can take from the
            # account's pool (and guarantees the bot that much): each question runs the URL's
            # ack and then the lazy answer, a second invocation of up to the timeout.
            reserved_concurrency=config.bot_reserved_concurrency,
            environment={
                "KOTAE_GENERATOR": "bedrock",
                "KOTAE_KNOWLEDGE_TABLE": data.knowledge.table_name,
                "KOTAE_PROMPT_TABLE": data.prompts.table_name,
                "KOTAE_PROMPT_SOURCE": "dynamodb",
                "KOTAE_DEDUPE_TABLE": data.dedupe.table_name,
                "KOTAE_BUDGET_TABLE": data.budgets.table_name,
                "KOTAE_ANSWER_LOG_BUCKET": answer_logs.bucket.bucket_name,
                "KOTAE_CHANNEL_PROFILES_PARAMETER": data.channel_profiles.parameter_name,
                "KOTAE_SLACK_SECRET_ID": data.slack_secret.secret_arn,
                **answering_environment(config),
                **curation_environment(answer_logs, config.glue_database),
            },
        )
        stack = Stack.of(self)
        grant_curation(role, data, answer_logs, config.glue_database)
        _grant_generation(stack, role, config)
        _grant_rerank(stack, role, config)
        data.prompts.grant_read_data(role)
        data.dedupe.grant_read_write_data(role)
        data.grant_budget_counting(role)
        log_writes = put_objects(answer_logs.bucket, ["answers", "feedback"])
        role.add_to_principal_policy(log_writes)
        acknowledge_wildcard_resources(
            role,
            log_writes,
            "s3:PutObject only, under answers/ and feedback/ of the answer-log bucket: each "
            "answer and each vote is a new object whose key is made at run time",
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[data.channel_profiles.parameter_arn])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"], resources=[data.slack_secret.secret_arn]
            )
        )
        # Bolt's lazy listeners: the ack returns at once and the answer runs in an async
        # invocation of this same function. The ARN is built from the explicit name because
        # referencing the function from its own role's policy would be a circular dependency.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[function_arn(stack, self.function_name)]
            )
        )
        # Public URL: Slack cannot sign AWS requests; Bolt verifies Slack's request signature.
        # CDK adds both lambda:InvokeFunctionUrl and lambda:InvokeFunction (InvokedViaFunctionUrl)
        # permissions, which URLs created since October 2025 need.
        # https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html#urls-auth-none
        self.url = self.function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)


class IngestFunction(_KotaeFunction):
    """Keeps the index in step with the knowledge table through its DynamoDB stream."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: KotaeConfig,
        role: iam.Role,
        search: Search,
        data: DataStores,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            bundle="ingest",
            role=role,
            search=search,
            writes_index=True,
            memory=config.ingest_memory_mb,
            timeout=config.ingest_timeout_seconds,
            environment={"KOTAE_KNOWLEDGE_TABLE": data.knowledge.table_name},
        )
        # KEYS_ONLY / OLD_IMAGE streams make the function read the item (consistent GetItem),
        # after checking the record's key names against the table's key schema (DescribeTable).
        data.knowledge.grant(role, "dynamodb:GetItem", "dynamodb:DescribeTable")

        # Batches that still fail after the retries land here as metadata (shard, sequence
        # numbers), not item data; `kotae backfill` re-indexes from the table.
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=f"{config.prefix}-ingest-dlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "this queue is the dead-letter destination of the stream mapping (on_failure "
            "below), which cdk-nag does not recognize; a queue behind it would have nothing to add",
        )
        # Partial batch responses + bisect + bounded retries: one bad record neither blocks its
        # shard nor makes the others re-run forever. https://docs.aws.amazon.com/lambda/latest/
        # dg/services-ddb-batchfailurereporting.html. The event source grants stream reads
        # (dynamodb:DescribeStream/GetRecords/GetShardIterator/ListStreams on the stream ARN)
        # and sqs:SendMessage (+ GetQueueAttributes/GetQueueUrl) on this queue only.
        self.function.add_event_source(
            sources.DynamoEventSource(
                data.knowledge,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=config.stream_batch_size,
                max_batching_window=Duration.seconds(config.stream_batching_window_seconds),
                bisect_batch_on_error=True,
                retry_attempts=config.stream_max_retries,
                max_record_age=Duration.seconds(config.stream_max_record_age_seconds),
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(self.dead_letter_queue),
            )
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "dynamodb:ListStreams, added by the event source's grant_stream_read: the action "
            "has no resource type, so IAM accepts only '*'; it lists stream ARNs, no data",
        )
