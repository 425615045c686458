"""An in-process HTTP stand-in for the Bedrock control plane's batch inference jobs.

It answers CreateModelInvocationJob, GetModelInvocationJob, ListModelInvocationJobs and
StopModelInvocationJob (REST JSON, as botocore's ``bedrock`` client sends them; point it here
with AWS_ENDPOINT_URL_BEDROCK). A job "runs" when it is read after ``polls`` GetModelInvocationJob
calls: it reads the input JSONL from S3 (moto, in this same process, so the boto3 client made
here is mocked too) and writes the documented output: ``<output>/<job id>/<input name>.out`` with
one result or error line per record, and ``manifest.json.out``
(https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-results.html).
Vectors come from :func:`tests.standins.bedrock.titan_vector`, as the runtime stand-in's do, so a
batch run and an on-demand run give the same index.

Each created job takes the next :class:`Script` of ``state.scripts`` (default: complete):
failed records, a failed or expired job, malformed lines, a job that never finishes.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

from tests.standins.bedrock import titan_vector
from tests.standins.server import serve

MIN_RECORDS = 100  # "Minimum number of records per batch inference job" (Bedrock quotas)


@dataclass
class Script:
    """How one job behaves."""

    outcome: Literal["complete", "partial", "fail", "expire", "hang"] = "complete"
    polls: int = 1  # GetModelInvocationJob calls before the job has run
    fail_record: Callable[[int, str], bool] = lambda position, rid: False
    malformed: int = 0  # lines replaced by garbage
    wrong_size: int = 0  # lines whose embedding has too few values
    message: str = "injected failure"


@dataclass
class BatchStandIn:
    scripts: list[Script] = field(default_factory=list)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # operation -> (status, error code): the next call of that operation fails so, once.
    faults: dict[str, tuple[int, str]] = field(default_factory=dict)
    run_seconds: float = 0.0  # time spent "running" jobs (benchmarks subtract it)
    url: str = ""
    region: str = "ap-northeast-1"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, operation: str) -> list[dict[str, Any]]:
        return [body for op, body in self.requests if op == operation]


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def run_job(job: dict[str, Any], script: Script) -> dict[str, int]:
    """Write the outputs of a job from its inputs; returns the manifest counts."""
    import boto3

    s3 = boto3.client("s3", region_name="ap-northeast-1")
    bucket, prefix = _split(job["inputDataConfig"]["s3InputDataConfig"]["s3Uri"])
    out_bucket, out_prefix = _split(job["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"])
    folder = f"{out_prefix.rstrip('/')}/{job['jobArn'].rsplit('/', 1)[-1]}/"
    counts = {
        "totalRecordCount": 0,
        "processedRecordCount": 0,
        "successRecordCount": 0,
        "errorRecordCount": 0,
    }
    keys = [
        o["Key"]
        for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in p.get("Contents", [])
        if o["Key"].endswith(".jsonl")
    ]
    position, spoiled = 0, 0
    for key in sorted(keys):
        lines = []
        for raw in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_lines():
            record = json.loads(raw)
            rid, body = record["recordId"], record["modelInput"]
            counts["totalRecordCount"] += 1
            if script.outcome == "partial" and position % 2:
                position += 1
                continue  # not processed in time
            counts["processedRecordCount"] += 1
            line: dict[str, Any] = {"recordId": rid, "modelInput": body}
            if script.fail_record(position, rid):
                line["error"] = {"errorCode": 400, "errorMessage": "Malformed input request"}
                counts["errorRecordCount"] += 1
            else:
                vector = titan_vector(body["inputText"], body.get("dimensions", 1024))
                if spoiled < script.wrong_size:
                    vector, spoiled = vector[:3], spoiled + 1
                line["modelOutput"] = {
                    "embedding": vector,
                    "inputTextTokenCount": len(body["inputText"].split()),
                }
                counts["successRecordCount"] += 1
            lines.append(json.dumps(line))
            position += 1
        for n in range(min(script.malformed, len(lines))):
            lines[n] = '{"recordId": "broken", "modelOutput": {"embedding": [0.1,'
        name = key.rsplit("/", 1)[-1]
        s3.put_object(Bucket=out_bucket, Key=f"{folder}{name}.out", Body="\n".join(lines).encode() + b"\n")
    manifest = {**counts, "inputTokenCount": 0, "outputTokenCount": 0}
    s3.put_object(Bucket=out_bucket, Key=f"{folder}manifest.json.out", Body=json.dumps(manifest).encode())
    return counts


def _operation(method: str, parts: list[str]) -> str | None:
    if parts == ["model-invocation-job"]:
        return "CreateModelInvocationJob"
    if parts == ["model-invocation-jobs"]:
        return "ListModelInvocationJobs"
    if len(parts) == 2 and method == "GET":
        return "GetModelInvocationJob"
    return None


class _Handler(BaseHTTPRequestHandler):
    state: BatchStandIn

    def log_message(self, *args: Any) -> None:
        return

    def _send(self, status: int, payload: dict[str, Any], error: str | None = None) -> None:
        body = json.dumps(payload, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if error:
            self.send_header("x-amzn-ErrorType", error)
        self.end_headers()
        self.wfile.write(body)

    def _route(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}") if length else {}
        query = dict(urllib.parse.parse_qsl(url.query))
        operation = _operation(method, parts)
        fault = self.state.faults.pop(operation, None) if operation else None
        if fault is not None:
            self.state.requests.append((operation or "", body))
            self._send(fault[0], {"message": "injected"}, fault[1])
            return
        if method == "POST" and parts == ["model-invocation-job"]:
            self._create(body)
        elif method == "GET" and parts == ["model-invocation-jobs"]:
            self._list(query)
        elif method == "GET" and len(parts) == 2 and parts[0] == "model-invocation-job":
            self._get(parts[1])
        elif method == "POST" and len(parts) == 3 and parts[2] == "stop":
            self._stop(parts[1])
        else:
            self._send(404, {"message": "unknown operation"}, "UnknownOperationException")

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _create(self, body: dict[str, Any]) -> None:
        state = self.state
        state.requests.append(("CreateModelInvocationJob", body))
        with state.lock:
            same = [j for j in state.jobs.values() if j["jobName"] == body["jobName"]]
            if same:
                self._send(409, {"message": "a job of that name exists"}, "ConflictException")
                return
            job_id = uuid.uuid4().hex[:12]
            arn = f"arn:aws:bedrock:{state.region}:123456789012:model-invocation-job/{job_id}"
            script = state.scripts.pop(0) if state.scripts else Script()
            state.jobs[arn] = {
                **{
                    k: body[k]
                    for k in ("jobName", "roleArn", "modelId", "inputDataConfig", "outputDataConfig")
                },
                "jobArn": arn,
                "status": "Submitted",
                "submitTime": _now(),
                "lastModifiedTime": _now(),
                "timeoutDurationInHours": body.get("timeoutDurationInHours", 24),
                "_script": script,
                "_polls": 0,
            }
        self._send(200, {"jobArn": arn})

    def _public(self, job: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in job.items() if not k.startswith("_")}

    def _get(self, arn: str) -> None:
        state = self.state
        state.requests.append(("GetModelInvocationJob", {"jobIdentifier": arn}))
        job = state.jobs.get(arn)
        if job is None:
            self._send(404, {"message": "no such job"}, "ResourceNotFoundException")
            return
        with state.lock:
            self._advance(job)
        self._send(200, self._public(job))

    def _advance(self, job: dict[str, Any]) -> None:
        script: Script = job["_script"]
        if job["status"] not in ("Submitted", "InProgress"):
            return
        job["_polls"] += 1
        if script.outcome == "hang" or job["_polls"] < script.polls:
            job["status"] = "InProgress"
            return
        job["lastModifiedTime"] = job["endTime"] = _now()
        if script.outcome in ("fail", "expire"):
            job["status"] = "Failed" if script.outcome == "fail" else "Expired"
            job["message"] = script.message
            return
        started = time.perf_counter()
        counts = run_job(job, script)
        self.state.run_seconds += time.perf_counter() - started
        if counts["totalRecordCount"] < MIN_RECORDS:
            job["status"], job["message"] = "Failed", f"fewer than {MIN_RECORDS} records"
            return
        job.update(counts)
        job["status"] = "PartiallyCompleted" if script.outcome == "partial" else "Completed"

    def _list(self, query: dict[str, str]) -> None:
        self.state.requests.append(("ListModelInvocationJobs", query))
        wanted = query.get("nameContains", "")
        jobs = [self._public(j) for j in self.state.jobs.values() if wanted in j["jobName"]]
        jobs.sort(key=lambda j: j["submitTime"], reverse=query.get("sortOrder") == "Descending")
        self._send(200, {"invocationJobSummaries": jobs})

    def _stop(self, arn: str) -> None:
        self.state.requests.append(("StopModelInvocationJob", {"jobIdentifier": arn}))
        job = self.state.jobs.get(arn)
        if job is None:
            self._send(404, {"message": "no such job"}, "ResourceNotFoundException")
            return
        job["status"] = "Stopped"
        self._send(200, {})


def batch_standin() -> AbstractContextManager[BatchStandIn]:
    """Serve on a free localhost port for the duration of the block."""
    return serve(BatchStandIn(), _Handler)
