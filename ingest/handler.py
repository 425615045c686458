"""The ingest Lambda: DynamoDB Streams batch -> index changes, with partial batch failures.

Thin by design: the Powertools batch processor calls ``record_handler`` once per record and
reports the sequence numbers of failed records in ``batchItemFailures``
(https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html), so the
event source mapping retries only those. Logs are structured JSON, without item content.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from ingest.runtime import runtime
from kotae.ops import metrics

logger = Logger(service="kotae-ingest")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


def record_handler(record: DynamoDBRecord) -> None:
    """Apply one record; raise to have it reported as a batch item failure."""
    where = {"sequence_number": record.dynamodb.sequence_number if record.dynamodb else None}
    try:
        change, result = runtime().ingestor.apply(record)
    except Exception as exc:
        # Logged here (reason and type only, never the item), then re-raised for the processor.
        logger.warning(
            "record failed", extra={**where, "error": type(exc).__name__, "reason": str(exc)[:500]}
        )
        raise
    logger.info(
        "record applied",
        extra={
            **where,
            "event": change.event,
            "key": change.key,
            "outcome": result.outcome,
            "embedded": result.embedded,
            "ttl_expiry": change.ttl_expiry,
        },
    )


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # A record without its dynamodb part has no sequence number to report a failure by (Lambda
    # never sends one); it is logged as an error and left out rather than failing the batch.
    usable = [
        r for r in event.get("Records", []) if isinstance(r, dict) and isinstance(r.get("dynamodb"), dict)
    ]
    skipped = len(event.get("Records", [])) - len(usable)
    if skipped:
        logger.error("records without a dynamodb part skipped", extra={"count": skipped})
        metrics.ingested(0, 0, skipped=skipped)
        event = {**event, "Records": usable}
    if not usable:
        metrics.flush()
        return {"batchItemFailures": []}
    records = [DynamoDBRecord(r) for r in usable]
    embedded = runtime().ingestor.prefetch(records)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    failed = len(response.get("batchItemFailures", []))
    metrics.ingested(len(records) - failed, failed)
    metrics.flush()
    logger.info(
        "batch done",
        extra={
            "records": len(records),
            "failed": failed,
            "prefetched": embedded,
        },
    )
    return dict(response)
