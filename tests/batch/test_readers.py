"""Input files: shape checks with clear messages, chunked reading, skipping rows for resume, Parquet, and the
digest of the part read so far (which a checkpoint records)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from bankmarketing_client.batch.prefix import Prefix, PrefixDigest
from bankmarketing_client.batch.readers import open_input
from bankmarketing_client.data import FEATURE_COLUMNS
from bankmarketing_client.errors import DatasetError
from batch.batch_support import WriteSubset


def test_empty_file_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(DatasetError, match=r"empty\.csv: the file is empty"):
        open_input(path)


def test_header_only_file_is_refused(write_subset: WriteSubset) -> None:
    path = write_subset("header.csv", rows=0)
    with pytest.raises(DatasetError, match="header but no data rows"):
        open_input(path)


def test_missing_column_is_named(write_subset: WriteSubset, tmp_path: Path) -> None:
    source = write_subset(rows=3)
    table = pacsv.read_csv(source).drop_columns(["duration", "euribor3m"])
    path = tmp_path / "missing.csv"
    pacsv.write_csv(table, path)
    with pytest.raises(DatasetError, match=r"missing column\(s\) duration, euribor3m"):
        open_input(path)


def test_wrong_delimiter_says_what_it_saw(tmp_path: Path, write_subset: WriteSubset) -> None:
    tabbed = tmp_path / "tabs.csv"
    tabbed.write_text(write_subset(rows=2).read_text().replace(",", "\t"))
    with pytest.raises(DatasetError, match=r"cannot split the header.*separated by '\\t'"):
        open_input(tabbed)


def test_semicolons_are_detected_and_rows_read_in_order(write_subset: WriteSubset) -> None:
    source = open_input(write_subset(rows=50, delimiter=";"), count_rows=True)
    assert source.delimiter == ";"
    assert source.total_rows == 50
    tables = list(source.iter_tables())
    assert sum(t.num_rows for t in tables) == 50
    assert set(FEATURE_COLUMNS) <= set(tables[0].column_names)


def test_id_column_is_found_and_skip_rows_resumes_after_them(write_subset: WriteSubset) -> None:
    source = open_input(write_subset(rows=40, with_id=True))
    assert source.id_column == "id"
    rest = pa.concat_tables(list(source.iter_tables(skip_rows=25)))
    assert rest.column("id").to_pylist() == [f"C{i:06d}" for i in range(26, 41)]


def test_parquet_is_read_in_batches_and_skipped(write_subset: WriteSubset, tmp_path: Path) -> None:
    table = pacsv.read_csv(write_subset(rows=120, with_id=True))
    path = tmp_path / "in.parquet"
    pq.write_table(table, path, row_group_size=50)
    source = open_input(path)
    assert (source.format, source.total_rows, source.id_column) == ("parquet", 120, "id")
    ids = pa.concat_tables(list(source.iter_tables(skip_rows=70))).column("id").to_pylist()
    assert ids == [f"C{i:06d}" for i in range(71, 121)]


def test_not_a_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    path.write_text("hello")
    with pytest.raises(DatasetError, match="not a readable Parquet file"):
        open_input(path)


def test_a_bad_number_late_in_the_file_switches_to_text_without_losing_rows(
    write_subset: WriteSubset, tmp_path: Path
) -> None:
    path = write_subset(rows=3000, with_id=True)
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[2500].split(",")
    cells[header.index("duration")] = "n/a"
    lines[2500] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    tables = list(open_input(path).iter_tables())
    assert pa.types.is_floating(tables[0].schema.field("age").type)  # parsed by the reader while it could
    assert pa.types.is_string(tables[-1].schema.field("age").type)  # text from the bad block on
    ids = [i for t in tables for i in t.column("id").to_pylist()]
    assert ids == [f"C{i:06d}" for i in range(1, 3001)]
    durations = [d for t in tables for d in t.column("duration").to_pylist()]
    assert durations[2499] == "n/a"


def test_the_id_type_is_read_with_the_header(write_subset: WriteSubset, tmp_path: Path) -> None:
    """Parquet ids keep their stored type in the output (dictionaries as their values); CSV ids are text."""
    table = pacsv.read_csv(write_subset(rows=5, with_id=True)).drop_columns(["id"])
    as_numbers = tmp_path / "numbers.parquet"
    pq.write_table(table.append_column("id", pa.array(range(5), pa.int64())), as_numbers)
    as_dictionary = tmp_path / "dictionary.parquet"
    pq.write_table(table.append_column("id", pa.array(list("abcde")).dictionary_encode()), as_dictionary)
    assert open_input(as_numbers).id_type == pa.int64()
    assert open_input(as_dictionary).id_type == pa.string()
    assert open_input(write_subset("text.csv", rows=5, with_id=True)).id_type is None


def test_the_digest_covers_each_csv_byte_once_even_when_the_reader_starts_again(
    write_subset: WriteSubset, tmp_path: Path
) -> None:
    """A bad number mid-file makes the reader start again from the top as text: the digest still ends as the
    file's SHA-256, and it never lags behind the rows yielded."""
    path = write_subset(rows=3000)
    lines = path.read_bytes().split(b"\n")
    lines[2000] = b"forty" + lines[2000][2:]  # age "NN" -> text: the typed read fails there
    path.write_bytes(b"\n".join(lines))
    digest = PrefixDigest(path)
    rows = 0
    for table in open_input(path).iter_tables(digest=digest):
        rows += table.num_rows
        assert digest.mark().length >= len(b"\n".join(lines[: rows + 1]))  # header + every row yielded
    assert rows == 3000
    assert digest.mark() == Prefix(path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())


def test_the_digest_covers_each_parquet_row_group_before_its_rows(write_subset: WriteSubset, tmp_path: Path) -> None:
    table = pacsv.read_csv(write_subset(rows=120, with_id=True))
    path = tmp_path / "in.parquet"
    pq.write_table(table, path, row_group_size=50)
    meta = pq.ParquetFile(path).metadata
    group_ends = [
        max(
            (c.dictionary_page_offset if c.has_dictionary_page else c.data_page_offset) + c.total_compressed_size
            for c in (meta.row_group(g).column(i) for i in range(meta.num_columns))
        )
        for g in range(meta.num_row_groups)
    ]
    digest = PrefixDigest(path)
    tables = open_input(path).iter_tables(digest=digest)
    next(tables)
    assert digest.mark().length == group_ends[0] < path.stat().st_size
    list(tables)
    assert digest.mark().length == group_ends[-1]
    assert digest.mark().sha256 == hashlib.sha256(path.read_bytes()[: group_ends[-1]]).hexdigest()
