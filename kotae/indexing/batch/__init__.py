"""Bulk embedding through Amazon Bedrock batch inference, for `kotae reindex --batch` and
`kotae backfill --batch`.

The texts that need embedding are gathered by a scan of the table (:mod:`.scan`), written as
batch-job JSONL to S3 (:mod:`.inputs`, :mod:`.records`), embedded by one or more
CreateModelInvocationJob jobs followed to the end (:mod:`.jobs`, :mod:`.runner`), and their
vectors kept in a memory-mapped file (:mod:`.vectors`). The index is then written by the
ordinary backfill path with a :class:`PrecomputedEmbedder`, which embeds on demand only what the
jobs did not (failed records, items changed since the scan).
"""

from kotae.indexing.batch.inputs import Collection, Limits
from kotae.indexing.batch.jobs import BatchError, Job, Jobs
from kotae.indexing.batch.runner import BatchRun, Outcome, RunConfig
from kotae.indexing.batch.scan import collect
from kotae.indexing.batch.vectors import PrecomputedEmbedder, VectorFile

__all__ = [
    "BatchError",
    "BatchRun",
    "Collection",
    "Job",
    "Jobs",
    "Limits",
    "Outcome",
    "PrecomputedEmbedder",
    "RunConfig",
    "VectorFile",
    "collect",
]
