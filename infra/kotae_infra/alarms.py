"""CloudWatch alarms for what needs a person: errors, throttles, a stalled stream, a full DLQ.

Every alarm notifies one SNS topic; ``-c kotae:alarmEmail=ops@example.com`` subscribes an
address (confirm the e-mail AWS sends), and the topic's ARN is an output for other endpoints.
Missing data counts as fine: a quiet bot is not broken.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .config import KotaeConfig

PERIOD = Duration.minutes(5)


class Alarms(Construct):
    """Errors and throttles of both functions, ingest IteratorAge and the DLQ depth."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: KotaeConfig,
        bot: lambda_.Function,
        ingest: lambda_.Function,
        dead_letter_queue: sqs.Queue,
    ) -> None:
        super().__init__(scope, construct_id)
        # SNS encryption is left off on purpose: alarms cannot publish to a topic encrypted with
        # the AWS managed key, and alarm notifications carry no user data.
        self.topic = sns.Topic(self, "Topic", display_name="kotae alarms", enforce_ssl=True)
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self._action = actions.SnsAction(self.topic)
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        for name, function in (("Bot", bot), ("Ingest", ingest)):
            self._alarm(
                f"{name}Errors",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                threshold=1,
                description=f"kotae {name.lower()} function errors (see its log group)",
            )
            self._alarm(
                f"{name}Throttles",
                function.metric_throttles(period=PERIOD, statistic="Sum"),
                threshold=1,
                description=f"kotae {name.lower()} function throttled (reserved or account concurrency used up)",
            )
        # Age of the newest record read from the stream: a growing value means ingest lags or
        # is stuck retrying, and records older than 24 hours leave the stream unprocessed.
        self._alarm(
            "IngestIteratorAge",
            ingest.metric("IteratorAge", period=PERIOD, statistic="Maximum"),
            threshold=config.iterator_age_alarm_seconds * 1000,
            description="kotae ingest is behind its DynamoDB stream",
        )
        self._alarm(
            "DeadLetters",
            dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"
            ),
            threshold=0,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description="kotae ingest gave up on stream records; run `kotae backfill` after fixing the cause",
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=comparison,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        self.alarms[construct_id] = alarm
