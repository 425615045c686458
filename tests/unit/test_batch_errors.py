"""The error branches of a batch run that the stand-ins cannot reach: S3 or the scan failing."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from kotae.errors import ProviderError
from kotae.indexing.batch import BatchRun, Collection, Job, Limits, RunConfig, collect
from kotae.records.keys import KeySchema
from kotae.records.schema import DEFAULT_SCHEMA

DENIED = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "Op")


class _Paginator:
    def paginate(self, **kwargs: Any) -> Any:
        raise DENIED


class _Denying:
    """A boto3 client whose every listing and read is refused."""

    def get_paginator(self, name: str) -> _Paginator:
        return _Paginator()


class _Jobs:
    """Jobs with one completed job already there (so nothing is uploaded or started)."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def named(self, prefix: str) -> list[Job]:
        return [self.job.model_copy(update={"name": prefix})]

    def get(self, arn: str) -> Job:
        return self.job


def test_unreadable_outputs_are_one_provider_error(tmp_path) -> None:
    job = Job.model_validate(
        {
            "jobArn": "arn:aws:bedrock:r:1:model-invocation-job/abc",
            "jobName": "x",
            "status": "Completed",
            "output_uri": "s3://bucket/out/",
        }
    )
    collection = Collection(lambda text: {"inputText": text})
    collection.add("hello")
    config = RunConfig(
        "bucket", "p", "arn:aws:iam::123456789012:role/r", "m", 4, Limits(100, 10**6, 200), poll_seconds=0
    )
    with pytest.raises(ProviderError, match="reading the outputs of batch job"):
        BatchRun(config, _Denying(), _Jobs(job), tmp_path).execute(collection)  # type: ignore[arg-type]


def test_a_scan_that_fails_is_one_provider_error() -> None:
    collection = Collection(lambda text: {"inputText": text})
    with pytest.raises(ProviderError, match="scanning knowledge"):
        collect(
            collection,
            _Denying(),
            "knowledge",
            key_schema=KeySchema.of(("item_key", "S")),
            schema=DEFAULT_SCHEMA,
            todo=lambda item: [],
            text=str,
            segments=2,
        )
