"""Answer and feedback logs: the S3 bucket, their Glue tables and an Athena workgroup.

The bot writes one JSON object per S3 object (``kotae/ops/answer_log.py``):
``answers/dt=YYYY-MM-DD/<answer_id>.json`` and ``feedback/dt=YYYY-MM-DD/<answer_id>-<time>.json``.
The Glue tables read them with the OpenX JSON SerDe and find partitions by partition
projection, so no crawler and no ``MSCK REPAIR TABLE`` is ever needed.
https://docs.aws.amazon.com/athena/latest/ug/partition-projection.html
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .config import KotaeConfig
from .findings import acknowledge

# ---------------------------------------------------------------------------------------------
# The log schema: the one place the columns are written down. They must match exactly the keys
# of kotae.answer_log.answer_record() and feedback_record(); a test checks the Glue tables.
# Athena/Hive types. "time" is an ISO 8601 string (quote the column in SQL: "time").
ANSWER_COLUMNS: list[tuple[str, str]] = [
    ("answer_id", "string"),
    ("time", "string"),
    ("team_id", "string"),
    ("channel_id", "string"),
    ("user_id", "string"),
    ("question", "string"),
    ("found", "boolean"),
    ("outcome", "string"),
    ("retrieved", "array<struct<key:string,chunk_id:string,score:double,relevance:double>>"),
    ("cited", "array<string>"),
    ("prompt_task", "string"),
    ("prompt_version", "string"),
    ("model_id", "string"),
    ("input_tokens", "int"),
    ("output_tokens", "int"),
    ("latency_ms", "map<string,double>"),
    ("total_ms", "double"),
    ("records", "string"),  # JSON text: the record query, total, keys, groups
    ("route", "string"),  # light, strong, pinned or none (kotae.answer.routing)
    ("route_reason", "string"),
    ("cost_usd", "double"),  # estimated from the price file when answered; null when unpriced
]
FEEDBACK_COLUMNS: list[tuple[str, str]] = [
    ("answer_id", "string"),
    ("time", "string"),
    ("user_id", "string"),
    ("feedback", "string"),  # "up" or "down"
    ("reason", "string"),  # a 👎's reason: wrong, outdated, not_found, other (or null)
    ("comment", "string"),  # what the person added to it (at most 500 characters)
]
LOG_TABLES = {"answers": ANSWER_COLUMNS, "feedback": FEEDBACK_COLUMNS}
PARTITION_KEY = "dt"  # yyyy-MM-dd, from the record's time
PROJECTION_START = "2024-01-01"
ATHENA_RESULTS_PREFIX = "athena-results/"
ACCESS_LOG_PREFIX = "answer-logs/"  # where the answer-log bucket's access logs go
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
# ---------------------------------------------------------------------------------------------


class AnswerLogs(Construct):
    """The private, encrypted log bucket with lifecycle rules, Glue tables and a workgroup.

    The answers hold question text and Slack user ids, so every request to the bucket is
    recorded by S3 server access logging in a second bucket (who read or wrote what, and when).
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: KotaeConfig) -> None:
        super().__init__(scope, construct_id)
        self.access_log_bucket = self._access_log_bucket(config)
        log_rules = [
            s3.LifecycleRule(
                id=f"{kind}-age",
                prefix=f"{kind}/",
                transitions=[
                    s3.Transition(
                        storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                        transition_after=Duration.days(config.answer_log_transition_days),
                    )
                ],
                expiration=Duration.days(config.answer_log_expiration_days),
                noncurrent_version_expiration=Duration.days(30) if config.answer_log_versioning else None,
            )
            for kind in LOG_TABLES
        ]
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=config.answer_log_versioning,
            # CDK writes the target's bucket policy for the logging service (feature flag
            # @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy), limited to this bucket as the source.
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix=ACCESS_LOG_PREFIX,
            lifecycle_rules=[
                *log_rules,
                s3.LifecycleRule(
                    id="athena-results", prefix=ATHENA_RESULTS_PREFIX, expiration=Duration.days(30)
                ),
                s3.LifecycleRule(
                    id="abort-uploads", abort_incomplete_multipart_upload_after=Duration.days(7)
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

        stack = Stack.of(self)
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=stack.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=config.glue_database, description="kotae answer and feedback logs"
            ),
        )
        self.tables = {
            kind: self._table(kind, columns, config.glue_database) for kind, columns in LOG_TABLES.items()
        }

        # Query results land in the same bucket; the workgroup enforces that location.
        self.workgroup = athena.CfnWorkGroup(
            self,
            "Workgroup",
            name=config.prefix,
            description="kotae answer and feedback logs",
            recursive_delete_option=True,
            state="ENABLED",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=self.bucket.s3_url_for_object(ATHENA_RESULTS_PREFIX),
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )

    def _access_log_bucket(self, config: KotaeConfig) -> s3.Bucket:
        """The target of the answer-log bucket's access logs; it does not log itself.

        S3 writes access logs as the logging service with the bucket owner's SSE-S3 default
        encryption, so no KMS key is involved. Logs expire after
        ``kotae:accessLogExpirationDays``. https://docs.aws.amazon.com/AmazonS3/latest/userguide/
        enable-server-access-logging.html
        """
        bucket = s3.Bucket(
            self,
            "AccessLogBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="access-log-age", expiration=Duration.days(config.access_log_expiration_days)
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "this is the access-log bucket: S3 advises against a log bucket logging into itself "
            "(each delivery would be logged again), and its only writer is the S3 logging service",
        )
        return bucket

    def _table(self, kind: str, columns: list[tuple[str, str]], database: str) -> glue.CfnTable:
        location = f"s3://{self.bucket.bucket_name}/{kind}/"
        table = glue.CfnTable(
            self,
            kind.capitalize() + "Table",
            catalog_id=Stack.of(self).account,
            database_name=database,
            table_input=glue.CfnTable.TableInputProperty(
                name=kind,
                description=f"kotae {kind} log, one JSON object per S3 object",
                table_type="EXTERNAL_TABLE",
                partition_keys=[glue.CfnTable.ColumnProperty(name=PARTITION_KEY, type="string")],
                parameters={
                    "classification": "json",
                    "EXTERNAL": "TRUE",
                    "projection.enabled": "true",
                    f"projection.{PARTITION_KEY}.type": "date",
                    f"projection.{PARTITION_KEY}.format": "yyyy-MM-dd",
                    f"projection.{PARTITION_KEY}.range": f"{PROJECTION_START},NOW",
                    f"projection.{PARTITION_KEY}.interval": "1",
                    f"projection.{PARTITION_KEY}.interval.unit": "DAYS",
                    "storage.location.template": f"{location}{PARTITION_KEY}=${{{PARTITION_KEY}}}",
                },
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in columns],
                    location=location,
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=JSON_SERDE,
                        # A malformed object reads as a row of NULLs instead of failing the query.
                        parameters={"ignore.malformed.json": "true"},
                    ),
                ),
            ),
        )
        table.node.add_dependency(self.database)
        return table
