"""Tables, the Slack secret and the channel-profile parameter: the state kotae keeps.

All tables are on-demand and encrypted with the AWS managed key (``aws/dynamodb``), so the
encryption is explicit in the template and no key grant is needed.
"""

from __future__ import annotations

import json

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from .config import KotaeConfig
from .findings import acknowledge

# What the channel-profile parameter starts with; operators edit it in place (bot/profiles.py).
DEFAULT_PROFILES = {"default": {"scopes": ["public"]}, "channels": {}}
_PITR = dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True)


class DataStores(Construct):
    """The knowledge, prompt, idempotency and budget tables, the Slack secret, the profiles parameter."""

    def __init__(self, scope: Construct, construct_id: str, *, config: KotaeConfig) -> None:
        super().__init__(scope, construct_id)
        prefix = config.prefix

        # The source of truth: every change flows through the stream to the ingest Lambda.
        # NEW_AND_OLD_IMAGES carries the item, so the Lambda rarely needs to read the table.
        self.knowledge = dynamodb.Table(
            self,
            "Knowledge",
            table_name=f"{prefix}-knowledge",
            partition_key=dynamodb.Attribute(name="item_key", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=_PITR,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )

        # Versioned prompts (kotae/answer/prompts.py DynamoDBSource): task_name + prompt_version.
        self.prompts = dynamodb.Table(
            self,
            "PromptTemplates",
            table_name=f"{prefix}-prompt-templates",
            partition_key=dynamodb.Attribute(name="task_name", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="prompt_version", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=_PITR,
            removal_policy=RemovalPolicy.RETAIN,
        )

        # Powertools idempotency's DynamoDB layout: key "id", TTL attribute "expiration".
        # https://docs.powertools.aws.dev/lambda/python/latest/utilities/idempotency/#dynamodb-table
        # Short-lived claims only, so the table goes with the stack.
        self.dedupe = dynamodb.Table(
            self,
            "Idempotency",
            table_name=f"{prefix}-idempotency",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expiration",
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.dedupe,
            "AwsSolutions-DDB3",
            "no point-in-time recovery: the table holds only idempotency claims that expire "
            "within minutes (TTL); a restore would bring back nothing worth having",
        )

        self.budgets = self._budget_table(prefix)
        self.slack_secret = self._slack_secret(prefix)

        # Channel profiles (scopes, prompt version per channel), read by the bot through
        # Powertools parameters so operators change them without a deploy. CloudFormation only
        # writes this value when the template's value changes.
        self.channel_profiles = ssm.StringParameter(
            self,
            "ChannelProfiles",
            parameter_name=config.channel_profiles_parameter,
            string_value=json.dumps(DEFAULT_PROFILES),
            description="kotae channel profiles (JSON, see bot/profiles.py)",
            tier=ssm.ParameterTier.STANDARD,
        )

    def _budget_table(self, prefix: str) -> dynamodb.Table:
        # Budget counters (kotae/ops/budgets/dynamodb.py): key "id", TTL attribute "expiration".
        # Each counter lives a window plus an hour, so the table goes with the stack.
        return dynamodb.Table(
            self,
            "Budgets",
            table_name=f"{prefix}-budgets",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expiration",
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=_PITR,
            removal_policy=RemovalPolicy.DESTROY,
        )

    def grant_budget_counting(self, role: iam.IGrantable) -> None:
        """What the bot's budget checks need on the budget table and nothing more: one
        transaction of conditional updates and condition checks per question (IAM authorizes a
        transaction per item action) and an unconditional update to add an answer's tokens."""
        self.budgets.grant(role, "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")

    def _slack_secret(self, prefix: str) -> secretsmanager.Secret:
        # Slack credentials under Bolt's names. The signing secret is generated and the token is
        # a placeholder, so nothing real is in the template; the operator puts the real values
        # with `aws secretsmanager put-secret-value` (infra/README.md).
        secret = secretsmanager.Secret(
            self,
            "SlackSecret",
            secret_name=f"{prefix}/slack",
            description="kotae Slack credentials: JSON with SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"SLACK_BOT_TOKEN": "xoxb-replace-me"}),
                generate_string_key="SLACK_SIGNING_SECRET",
                exclude_punctuation=True,
                password_length=32,
            ),
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "no automatic rotation: Slack issues the bot token and the signing secret, so a "
            "rotation Lambda cannot make new ones; rotate them in the Slack app, then put them "
            "here (infra/README.md, step 5)",
        )
        return secret
