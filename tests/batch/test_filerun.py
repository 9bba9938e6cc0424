"""score_file: order, rejected rows, fail-fast, formats and ragged rows, against the real local endpoint over HTTP.

Kills, faults and guards have their own files (test_resume, test_faults, test_guards)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from bankmarketing_client.batch import score_file
from bankmarketing_client.client import ScoringClient
from bankmarketing_client.data import FEATURE_COLUMNS, read_frame
from bankmarketing_client.local.endpoint import LocalEndpoint
from batch.batch_support import WriteSubset, read_csv_rows


def _reference(endpoint: LocalEndpoint, path: Path) -> list[tuple[str, float]]:
    """What the typed client says for the same rows, in one request (the ground truth for order)."""
    frame = read_frame(path, require_target=False)
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in frame[list(FEATURE_COLUMNS)].to_dict(orient="records")
    ]
    with ScoringClient(endpoint.scoring_uri, endpoint.primary_key, contract="inputs") as client:
        predictions = client.predict_proba(records)
    return [(p.label, p.probability or 0.0) for p in predictions]


def _corrupt(path: Path, changes: dict[tuple[int, str], str]) -> None:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for (row, field), value in changes.items():
        rows[row - 1][field] = value
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def test_order_and_count_survive_small_batches(
    scoring_env: LocalEndpoint, write_subset: WriteSubset, tmp_path: Path
) -> None:
    source = write_subset(rows=300, with_id=True)
    output = tmp_path / "out.csv"
    summary = score_file(source, output, batch_size=7, concurrency=3)
    assert (summary.rows, summary.scored, summary.rejected, summary.ok) == (300, 300, 0, True)
    rows = read_csv_rows(output)
    assert list(rows[0]) == ["id", "row", "prediction", "probability"]
    assert [r["id"] for r in rows] == [f"C{i:06d}" for i in range(1, 301)]
    assert [int(r["row"]) for r in rows] == list(range(1, 301))
    expected = _reference(scoring_env, source)
    assert [r["prediction"] for r in rows] == [label for label, _ in expected]
    assert [float(r["probability"]) for r in rows] == pytest.approx([p for _, p in expected], abs=1e-12)
    assert not list(tmp_path.glob(".*")), "spool or checkpoint left behind"


def test_invalid_rows_are_not_sent_and_listed_with_row_field_reason(
    scoring_env: LocalEndpoint, write_subset: WriteSubset, tmp_path: Path
) -> None:
    source = write_subset(rows=60)
    _corrupt(source, {(5, "age"): "abc", (17, "job"): "astronaut", (18, "month"): "May", (18, "duration"): "-3"})
    errors = tmp_path / "bad.csv"
    summary = score_file(source, tmp_path / "out.csv", errors=errors, batch_size=16)
    assert (summary.rows, summary.scored, summary.rejected, summary.ok) == (60, 57, 3, False)
    listed = [(int(r["row"]), r["field"]) for r in read_csv_rows(errors)]
    assert listed == [(5, "age"), (17, "job"), (18, "month"), (18, "duration")]
    assert "astronaut" in read_csv_rows(errors)[1]["reason"]
    out = read_csv_rows(tmp_path / "out.csv")
    assert len(out) == 60
    assert [int(r["row"]) for r in out if not r["prediction"]] == [5, 17, 18]
    assert all(r["prediction"] in ("yes", "no") for i, r in enumerate(out, 1) if i not in (5, 17, 18))


def test_fail_fast_stops_at_the_first_bad_row(
    scoring_env: LocalEndpoint, write_subset: WriteSubset, tmp_path: Path
) -> None:
    source = write_subset(rows=200)
    _corrupt(source, {(150, "age"): "x", (170, "job"): "y"})
    output = tmp_path / "out.csv"
    summary = score_file(source, output, fail_fast=True, batch_size=20)
    assert summary.stopped_early
    assert not summary.ok
    assert not output.exists()
    assert [(r["row"], r["field"]) for r in read_csv_rows(tmp_path / "out.errors.csv")] == [("150", "age")]


#: Ids that look like missing values to CSV readers: an id is text and must come out exactly as it went in.
NULL_LOOKING_IDS = ("NA", "null", "", "N/A", "nan", "NaN", "None", "#N/A")


def test_csv_and_parquet_round_trip_to_the_same_answers(
    scoring_env: LocalEndpoint, write_subset: WriteSubset, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    source = write_subset(rows=120, with_id=True)
    lines = source.read_text().splitlines()
    for offset, odd in enumerate(NULL_LOOKING_IDS):  # spread over both sides of a batch boundary
        row = 45 + offset
        lines[row] = ('""' if odd == "" else odd) + lines[row][lines[row].index(",") :]
    source.write_text("\n".join(lines) + "\n")
    _corrupt(source, {(10, "age"): "old"})  # a rejected row: no prediction, which Parquet must still show as null
    ids = [r["id"] for r in read_csv_rows(source)]
    assert ids[44:52] == list(NULL_LOOKING_IDS)
    as_parquet = tmp_path / "out.parquet"
    score_file(source, as_parquet, batch_size=50)
    table = pq.read_table(as_parquet)
    assert table.column_names == ["id", "row", "prediction", "probability"]
    assert table.column("id").to_pylist() == ids
    predictions = table.column("prediction").to_pylist()
    assert [i for i, p in enumerate(predictions, start=1) if p is None] == [10]
    parquet_in = tmp_path / "in.parquet"
    as_text = pacsv.ConvertOptions(column_types={"id": pa.string()}, strings_can_be_null=False)
    pq.write_table(pacsv.read_csv(source, convert_options=as_text), parquet_in)
    assert pq.read_table(parquet_in).column("id").to_pylist() == ids
    back = tmp_path / "back.csv"
    score_file(parquet_in, back, batch_size=33)
    rows = read_csv_rows(back)
    assert [r["id"] for r in rows] == ids
    assert [r["prediction"] or None for r in rows] == predictions
    probabilities = table.column("probability").to_pylist()
    assert [float(r["probability"] or "nan") for r in rows] == pytest.approx(
        [float("nan") if p is None else p for p in probabilities], nan_ok=True
    )
    again = tmp_path / "again.parquet"
    score_file(parquet_in, again, batch_size=40)
    assert pq.read_table(again).column("id").to_pylist() == ids


def test_data_contract_gives_labels_without_probability(
    endpoint_data: LocalEndpoint, write_subset: WriteSubset, tmp_path: Path
) -> None:
    output = tmp_path / "out.csv"
    score_file(write_subset(rows=40), output, scoring_uri=endpoint_data.scoring_uri, api_key=endpoint_data.primary_key)
    rows = read_csv_rows(output)
    assert list(rows[0]) == ["row", "prediction"]
    assert len(rows) == 40
    assert {r["prediction"] for r in rows} <= {"yes", "no"}


def test_bad_cells_before_and_after_the_switch_to_text_are_reported_alike(
    scoring_env: LocalEndpoint, write_subset: WriteSubset, tmp_path: Path
) -> None:
    source = write_subset(rows=1500)
    _corrupt(source, {(5, "age"): "-1", (9, "age"): "41.5", (1200, "age"): "-1", (1300, "duration"): "n/a"})
    errors = tmp_path / "errors.csv"
    summary = score_file(source, tmp_path / "out.csv", errors=errors)
    assert (summary.rows, summary.rejected, summary.scored) == (1500, 4, 1496)
    listed = read_csv_rows(errors)
    assert [(r["row"], r["field"]) for r in listed] == [
        ("5", "age"),
        ("9", "age"),
        ("1200", "age"),
        ("1300", "duration"),
    ]
    assert listed[0]["reason"] == listed[2]["reason"]  # same words whether the reader parsed the number or not
    assert "'n/a'" in listed[3]["reason"]


def test_a_manual_concurrency_above_the_tuner_limit_reaches_the_client(
    scoring_env: LocalEndpoint, write_subset: WriteSubset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--concurrency 24 must give the client 24 slots; its own limit would otherwise cap the run at 16."""
    import bankmarketing_client.client as client_module

    built: list[int] = []

    class Recording(client_module.AsyncScoringClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            built.append(kwargs["max_concurrency"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(client_module, "AsyncScoringClient", Recording)
    summary = score_file(write_subset(rows=48), tmp_path / "out.csv", batch_size=2, concurrency=24)
    assert summary.scored == 48
    assert built == [24]


def test_rows_with_too_many_or_too_few_columns_are_rejected_and_the_run_goes_on(
    scoring_env: LocalEndpoint, write_subset: WriteSubset, tmp_path: Path
) -> None:
    clean = write_subset("clean.csv", rows=60)
    score_file(clean, tmp_path / "clean_out.csv", batch_size=25)
    lines = clean.read_text().splitlines()  # line i is data row i
    lines[7] += ",extra"
    lines[20] = lines[20].rsplit(",", 1)[0]
    lines[60] += ",extra,more"  # the very last row
    source = tmp_path / "ragged.csv"
    source.write_text("\n".join(lines) + "\n")
    errors = tmp_path / "errors.csv"
    summary = score_file(source, tmp_path / "out.csv", errors=errors, batch_size=25)
    assert (summary.scored, summary.rejected, summary.failed) == (57, 3, 0)
    assert [(r["row"], r["field"], r["reason"]) for r in read_csv_rows(errors)] == [
        ("7", "(record)", "expected 21 columns, got 22"),
        ("20", "(record)", "expected 21 columns, got 20"),
        ("60", "(record)", "expected 21 columns, got 23"),
    ]
    out = read_csv_rows(tmp_path / "out.csv")
    expected = read_csv_rows(tmp_path / "clean_out.csv")
    assert [r["row"] for r in out] == [str(i) for i in range(1, 61)]
    for got, want in zip(out, expected, strict=True):
        bad = got["row"] in ("7", "20", "60")
        assert got["prediction"] == ("" if bad else want["prediction"])


def test_a_ragged_row_before_a_checkpoint_resumes_to_the_same_numbering(
    scoring_env: LocalEndpoint, write_subset: WriteSubset, tmp_path: Path
) -> None:
    """Resume skips physical rows, the ragged one included, so rows after it keep their numbers."""
    from bankmarketing_client.batch.readers import RECORD_ERROR_COLUMN, open_input

    lines = write_subset(rows=40).read_text().splitlines()
    lines[5] += ",extra"
    source = tmp_path / "ragged.csv"
    source.write_text("\n".join(lines) + "\n")
    whole = [r for t in open_input(source).iter_tables() for r in t.column(RECORD_ERROR_COLUMN).to_pylist()]
    tail = [r for t in open_input(source).iter_tables(skip_rows=3) for r in t.column(RECORD_ERROR_COLUMN).to_pylist()]
    assert len(whole) == 40
    assert tail == whole[3:]
    assert [i for i, r in enumerate(whole, start=1) if r] == [5]
