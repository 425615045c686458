"""The batch inference file formats, the even cut into jobs, and the vector file."""

from __future__ import annotations

import json

import pytest

from kotae.indexing.batch.inputs import Collection, Limits, job_count, job_of, upload_inputs
from kotae.indexing.batch.records import MalformedLine, input_line, parse_output_line, record_id
from kotae.indexing.batch.runner import _attempt
from kotae.indexing.batch.vectors import PrecomputedEmbedder, VectorFile
from tests.fakes import FakeEmbedder


def test_record_ids_are_stable_alphanumeric_and_distinct() -> None:
    assert record_id("a") == record_id("a") != record_id("b")
    assert record_id("東京").isalnum() and len(record_id("x")) == 24


def test_input_line_is_one_documented_record() -> None:
    line = input_line("abc", {"inputText": "東京", "dimensions": 256, "normalize": True})
    assert line.endswith(b"\n") and json.loads(line) == {
        "recordId": "abc",
        "modelInput": {"inputText": "東京", "dimensions": 256, "normalize": True},
    }


def test_a_result_and_a_record_error_parse() -> None:
    ok = parse_output_line(
        json.dumps(
            {
                "recordId": "r1",
                "modelInput": {},
                "modelOutput": {"embedding": [0.5, 0.5], "inputTextTokenCount": 2},
            }
        ),
        2,
    )
    assert ok.rid == "r1" and ok.vector == [0.5, 0.5] and ok.error is None
    failed = parse_output_line(
        json.dumps({"recordId": "r2", "error": {"errorCode": 400, "errorMessage": "bad request"}}), 2
    )
    assert failed.vector is None and failed.error == "400: bad request"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param('{"recordId": "r", "modelOutput": {"embedding": [0.1,', id="truncated-json"),
        pytest.param("not json", id="not-json"),
        pytest.param('{"modelOutput": {"embedding": [1, 2]}}', id="no-record-id"),
        pytest.param('{"recordId": "r"}', id="neither-output-nor-error"),
        pytest.param('{"recordId": "r", "modelOutput": {"embedding": [1]}}', id="wrong-size"),
        pytest.param('{"recordId": "r", "modelOutput": {"embedding": ["x", 1]}}', id="not-numbers"),
        pytest.param('{"recordId": "r", "modelOutput": {}}', id="no-embedding"),
    ],
)
def test_malformed_lines_are_refused(raw: str) -> None:
    with pytest.raises(MalformedLine):
        parse_output_line(raw, 2)


@pytest.mark.parametrize(
    ("records", "per_job", "sizes"), [(120, 200, [120]), (300, 200, [150, 150]), (401, 200, [134, 134, 133])]
)
def test_jobs_are_cut_evenly(records: int, per_job: int, sizes: list[int]) -> None:
    limits = Limits(records_per_file=100, file_bytes=10**9, records_per_job=per_job)
    jobs = [job_of(p, records, limits) for p in range(records)]
    assert job_count(records, limits) == len(sizes) and [jobs.count(j) for j in range(len(sizes))] == sizes


def test_inputs_roll_over_by_records_and_bytes_and_skip_existing_jobs() -> None:
    collection = Collection(lambda text: {"inputText": text})
    for i in range(250):
        collection.add(f"text {i}")
    collection.add("text 0")  # a repeated text is one record
    assert len(collection) == 250
    written: dict[tuple[int, int], int] = {}
    limits = Limits(records_per_file=100, file_bytes=10**9, records_per_job=200)
    upload_inputs(
        collection, {0, 1}, limits, lambda j, k, f: written.__setitem__((j, k), len(f.read().splitlines()))
    )
    assert written == {(0, 0): 100, (0, 1): 25, (1, 0): 100, (1, 1): 25}
    written.clear()
    upload_inputs(
        collection,
        {1},
        Limits(1000, 2000, 200),
        lambda j, k, f: written.__setitem__((j, k), len(f.read().splitlines())),
    )
    assert set(written) == {(1, k) for k in range(len(written))} and sum(written.values()) == 125
    collection.close()


def test_run_id_follows_the_texts_and_the_model_settings() -> None:
    a, b = Collection(lambda t: {}), Collection(lambda t: {})
    for text in ("x", "y"):
        a.add(text)
    for text in ("y", "x"):
        b.add(text)
    assert a.run_id("m", 256) == b.run_id("m", 256) != a.run_id("m", 1024)


def test_attempt_numbers() -> None:
    assert _attempt("kotae-abc-j000") == 0 and _attempt("kotae-abc-j000-a3") == 3


def test_vector_file_and_precomputed_embedder(tmp_path) -> None:
    inner = FakeEmbedder()
    vectors = VectorFile(tmp_path, [record_id("known")], inner.dimensions)
    assert vectors.put(record_id("known"), [0.5] * inner.dimensions)
    assert not vectors.put("unknown", [0.5] * inner.dimensions)
    with pytest.raises(ValueError):
        vectors.put(record_id("known"), [0.5])
    embedder = PrecomputedEmbedder(inner, vectors)
    known, other = embedder.embed(["known", "other"])
    assert known == [0.5] * inner.dimensions and other == inner.embed(["other"])[0]
    assert embedder.on_demand == 1 and vectors.missing() == []
    assert embedder.embed(["known"], purpose="query") == inner.embed(["known"], purpose="query")
    vectors.close()
    assert list(tmp_path.iterdir()) == []  # nothing left behind
