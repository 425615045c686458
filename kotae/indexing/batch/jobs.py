"""The Bedrock control plane for batch inference jobs: create, find, follow.

CreateModelInvocationJob takes a job name, the service role Bedrock assumes, the model, the S3
input and output locations and a timeout in hours (24-168):
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_CreateModelInvocationJob.html
GetModelInvocationJob reports its status and record counts; the statuses are Submitted,
Validating, Scheduled, InProgress, Completed, PartiallyCompleted (not every record could be
processed in time), Failed, Stopping, Stopped and Expired (scheduled but not started before the
timeout): https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ListModelInvocationJobs.html
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kotae.errors import ProviderError

RUNNING = frozenset({"Submitted", "Validating", "Scheduled", "InProgress", "Stopping"})
FINISHED = frozenset({"Completed", "PartiallyCompleted"})
FAILED = frozenset({"Failed", "Stopped", "Expired"})


class BatchError(ProviderError):
    """A batch embedding run that cannot go on; the message says what to do next."""


class Job(BaseModel):
    """What kotae reads of a job (GetModelInvocationJob or a ListModelInvocationJobs summary)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    arn: str = Field(alias="jobArn")
    name: str = Field(alias="jobName")
    status: str = "Submitted"
    message: str | None = None
    output_uri: str = ""
    total: int = Field(default=0, alias="totalRecordCount")
    processed: int = Field(default=0, alias="processedRecordCount")
    errors: int = Field(default=0, alias="errorRecordCount")

    @classmethod
    def read(cls, raw: dict[str, Any]) -> Job:
        output = raw.get("outputDataConfig", {}).get("s3OutputDataConfig", {}).get("s3Uri", "")
        return cls.model_validate({**raw, "output_uri": output})


class Jobs:
    """Batch inference jobs through a boto3 ``bedrock`` client (kotae.aws.client)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def create(
        self, name: str, *, role_arn: str, model_id: str, input_uri: str, output_uri: str, timeout_hours: int
    ) -> str:
        """Start a job and return its ARN. The job name doubles as the idempotency token, so a
        retried request cannot start a second job."""
        from kotae.aws import translate

        try:
            response = self._client.create_model_invocation_job(
                jobName=name,
                clientRequestToken=name,
                roleArn=role_arn,
                modelId=model_id,
                inputDataConfig={"s3InputDataConfig": {"s3Uri": input_uri, "s3InputFormat": "JSONL"}},
                outputDataConfig={"s3OutputDataConfig": {"s3Uri": output_uri}},
                timeoutDurationInHours=timeout_hours,
            )
        except Exception as exc:  # botocore has retried; say what failed
            raise translate(exc, f"starting batch job {name}") from exc
        return str(response["jobArn"])

    def get(self, arn: str) -> Job:
        from kotae.aws import translate

        try:
            return Job.read(self._client.get_model_invocation_job(jobIdentifier=arn))
        except Exception as exc:
            raise translate(exc, f"reading batch job {arn}") from exc

    def named(self, prefix: str) -> list[Job]:
        """Every job whose name starts with ``prefix``, oldest first."""
        from kotae.aws import translate

        jobs: list[Job] = []
        token: str | None = None
        try:
            while True:
                page = self._client.list_model_invocation_jobs(
                    nameContains=prefix,
                    sortBy="CreationTime",
                    sortOrder="Ascending",
                    **({"nextToken": token} if token else {}),
                )
                jobs += [Job.read(s) for s in page.get("invocationJobSummaries", [])]
                token = page.get("nextToken")
                if not token:
                    break
        except Exception as exc:
            raise translate(exc, f"listing batch jobs named {prefix}*") from exc
        return [j for j in jobs if j.name.startswith(prefix)]
