"""Bedrock batch inference for `kotae reindex --batch`: a bucket, the service role, an operator policy.

* The bucket holds the job's JSONL input and the output Bedrock writes (kotae.indexing.batch),
  SSE-S3 encrypted, TLS only, access-logged, with objects expiring after a week.
* The service role is the one Bedrock assumes to run the job: trusted by bedrock.amazonaws.com
  only for this account's model invocation jobs, it may read the input prefix, write the output
  prefix and invoke the Titan model. https://docs.aws.amazon.com/bedrock/latest/userguide/batch-iam-sr.html
* The operator policy is what a person (or CI role) running the command needs: create and follow
  jobs, pass the service role to Bedrock, and read and write the bucket.
  https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-permissions.html
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .config import KotaeConfig
from .findings import acknowledge_wildcard_resources

BATCH_PREFIX = "kotae-batch"  # KOTAE_BATCH_PREFIX's default
ACCESS_LOG_PREFIX = "batch/"


class BatchInference(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: KotaeConfig, access_log_bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=access_log_bucket,
            server_access_logs_prefix=ACCESS_LOG_PREFIX,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="batch-age",
                    expiration=Duration.days(7),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=False,
        )
        jobs = stack.format_arn(service="bedrock", resource="model-invocation-job", resource_name="*")
        model = f"arn:{stack.partition}:bedrock:{stack.region}::foundation-model/{config.embedding_model_id}"
        self.role = iam.Role(
            self,
            "ServiceRole",
            description="Bedrock batch inference jobs of kotae reindex --batch",
            assumed_by=iam.ServicePrincipal(
                "bedrock.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": jobs},
                },
            ),
        )
        objects = self.bucket.arn_for_objects(f"{BATCH_PREFIX}/*")
        statements = [
            iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[objects]),
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{BATCH_PREFIX}/*"]}},
            ),
            iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=[model]),
        ]
        for statement in statements:
            self.role.add_to_policy(statement)
        acknowledge_wildcard_resources(
            self.role, statements[0], "Bedrock reads and writes one object per input and output file of a run"
        )
        self.operator_policy = self._operator_policy(jobs, model, objects, statements[1])

    def _operator_policy(
        self, jobs: str, model: str, objects: str, list_bucket: iam.PolicyStatement
    ) -> iam.ManagedPolicy:
        statements = [
            iam.PolicyStatement(actions=["bedrock:CreateModelInvocationJob"], resources=[jobs, model]),
            iam.PolicyStatement(
                actions=["bedrock:GetModelInvocationJob", "bedrock:StopModelInvocationJob"], resources=[jobs]
            ),
            iam.PolicyStatement(actions=["bedrock:ListModelInvocationJobs"], resources=["*"]),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
            ),
            iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[objects]),
            list_bucket,
        ]
        policy = iam.ManagedPolicy(
            self,
            "OperatorPolicy",
            description="Attach to whoever runs kotae reindex --batch / backfill --batch",
            statements=statements,
        )
        reasons = {
            0: "a job's ARN is only known once it exists",
            1: "a job's ARN is only known once it exists",
            2: "ListModelInvocationJobs does not support resource-level permissions",
            4: "one object per input and output file of a run, under the batch prefix",
        }
        for index, reason in reasons.items():
            acknowledge_wildcard_resources(policy, statements[index], reason)
        return policy
