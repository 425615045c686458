"""The kotae stack: state, search, the two functions, logs, alarms and the outputs operators need.

:func:`build_app` is what ``infra/app.py`` and the tests call: it reads and validates the
context before any construct exists, so a bad ``-c`` value fails with one clear message.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aws_cdk import Annotations, App, CfnOutput, Environment, Stack, Tags
from constructs import Construct

from .alarms import Alarms
from .batch import BatchInference
from .config import KotaeConfig
from .data import DataStores
from .functions import BotFunction, IngestFunction, lambda_role
from .logs import AnswerLogs
from .search import DomainSearch, ServerlessSearch

CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"


class KotaeStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: KotaeConfig, **kwargs: Any) -> None:
        super().__init__(
            scope, construct_id, description="kotae: Slack answers from your team's knowledge", **kwargs
        )
        self.config = config
        self.data = DataStores(self, "Data", config=config)
        self.answer_logs = AnswerLogs(self, "AnswerLogs", config=config)
        self.batch = BatchInference(
            self, "Batch", config=config, access_log_bucket=self.answer_logs.access_log_bucket
        )

        bot_role = lambda_role(self, "BotRole", "kotae bot function")
        ingest_role = lambda_role(self, "IngestRole", "kotae ingest function")
        self.search: ServerlessSearch | DomainSearch
        if config.search == "serverless":
            self.search = ServerlessSearch(
                self, "Search", config=config, readers=[bot_role], writers=[ingest_role]
            )
        else:
            self.search = DomainSearch(self, "Search", config=config)

        self.bot = BotFunction(
            self,
            "Bot",
            config=config,
            role=bot_role,
            search=self.search,
            data=self.data,
            answer_logs=self.answer_logs,
        )
        self.ingest = IngestFunction(
            self, "Ingest", config=config, role=ingest_role, search=self.search, data=self.data
        )
        if isinstance(self.search, ServerlessSearch):
            # Data access is in place before the first stream batch reaches the function.
            self.ingest.function.node.add_dependency(self.search.access_policy)
        self.alarms = Alarms(
            self,
            "Alarms",
            config=config,
            bot=self.bot.function,
            ingest=self.ingest.function,
            dead_letter_queue=self.ingest.dead_letter_queue,
        )
        Tags.of(self).add("project", "kotae")
        if config.bundle == "skip" and not config.asset_dir:
            Annotations.of(self).add_warning_v2(
                "kotae:bundleSkipped",
                "kotae:bundle=skip: the functions hold placeholder code; do not deploy this",
            )
        self._outputs()

    def _outputs(self) -> None:
        search_name = "CollectionEndpoint" if isinstance(self.search, ServerlessSearch) else "DomainEndpoint"
        outputs = {
            "FunctionUrl": (self.bot.url.url, "Slack request URL: append slack/events (manifest.yaml)"),
            "BotFunctionName": (self.bot.function.function_name, "bot Lambda function"),
            "IngestFunctionName": (self.ingest.function.function_name, "ingest Lambda function"),
            "BotLogGroup": (self.bot.log_group.log_group_name, "bot logs"),
            "IngestLogGroup": (self.ingest.log_group.log_group_name, "ingest logs"),
            "KnowledgeTable": (self.data.knowledge.table_name, "kotae load / backfill --table"),
            "PromptTable": (self.data.prompts.table_name, "kotae prompts publish --table"),
            "DedupeTable": (self.data.dedupe.table_name, "Powertools idempotency table"),
            "SlackSecretArn": (
                self.data.slack_secret.secret_arn,
                "put SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET",
            ),
            "ChannelProfilesParameter": (
                self.data.channel_profiles.parameter_name,
                "channel profiles (JSON)",
            ),
            "LogBucket": (self.answer_logs.bucket.bucket_name, "answer and feedback logs"),
            "AccessLogBucket": (
                self.answer_logs.access_log_bucket.bucket_name,
                "S3 access logs of the log bucket (answer-logs/)",
            ),
            "BatchBucket": (self.batch.bucket.bucket_name, "KOTAE_BATCH_BUCKET"),
            "BatchRoleArn": (self.batch.role.role_arn, "KOTAE_BATCH_ROLE_ARN"),
            "BatchOperatorPolicyArn": (
                self.batch.operator_policy.managed_policy_arn,
                "attach to whoever runs kotae reindex --batch",
            ),
            "GlueDatabase": (self.config.glue_database, "Athena database of the logs"),
            "AthenaWorkgroup": (
                self.answer_logs.workgroup.name,
                "Athena workgroup (results in the log bucket)",
            ),
            search_name: (self.search.endpoint, "KOTAE_OPENSEARCH_ENDPOINT"),
            "DeadLetterQueue": (self.ingest.dead_letter_queue.queue_url, "ingest batches that failed"),
            "AlarmTopic": (self.alarms.topic.topic_arn, "SNS topic of the alarms"),
        }
        if isinstance(self.search, DomainSearch):
            outputs["DomainErrorLogGroup"] = (self.search.error_logs.log_group_name, "OpenSearch error logs")
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)


def cdk_json_context() -> dict[str, Any]:
    """The context in infra/cdk.json (defaults and feature flags)."""
    return json.loads(CDK_JSON.read_text(encoding="utf-8")).get("context", {})


def build_app(
    context: dict[str, Any] | None = None, *, outdir: str | None = None, account: str | None = None
) -> tuple[App, KotaeStack]:
    """An App with one KotaeStack. ``context`` overrides cdk.json; so does ``cdk -c`` (env).

    The Region comes from ``kotae:region``; the account from ``account`` or the CLI's
    CDK_DEFAULT_ACCOUNT, else the template stays account-agnostic (``${AWS::AccountId}``).
    """
    app = App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    config = KotaeConfig.from_context(app.node.try_get_context, app.node.get_all_context())
    env = Environment(account=account or os.environ.get("CDK_DEFAULT_ACCOUNT"), region=config.region)
    stack = KotaeStack(app, config.stack_name, config=config, env=env)
    return app, stack
