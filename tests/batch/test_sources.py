"""Chunk sources: tables cut to the size the engine asks for, rows numbered across cuts, records checked one by one."""

from __future__ import annotations

import asyncio

import pyarrow as pa
import pyarrow.csv as pacsv

from bankmarketing_client.batch.engine import InputChunk
from bankmarketing_client.batch.sources import RecordChunks, TableChunks, aiter_records
from bankmarketing_client.data import FEATURE_COLUMNS
from batch.batch_support import WriteSubset


def _drain(source: TableChunks | RecordChunks, sizes: list[int]) -> list[InputChunk]:
    async def run() -> list[InputChunk]:
        chunks = []
        for size in sizes:
            chunk = await source(size)
            if chunk is None:
                break
            chunks.append(chunk)
        return chunks

    return asyncio.run(run())


def test_tables_are_cut_and_joined_to_the_size_asked_for(write_subset: WriteSubset) -> None:
    table = pacsv.read_csv(write_subset(rows=10, with_id=True))
    pieces = iter([table.slice(0, 3), table.slice(3, 5), table.slice(8, 2)])
    source = TableChunks(pieces, start_row=1, id_column="id", allow_unknown=False)
    chunks = _drain(source, [4, 4, 4, 4])
    assert [(c.checked.start_row, c.checked.num_rows) for c in chunks] == [(1, 4), (5, 4), (9, 2)]
    ids = pa.concat_arrays([c.ids for c in chunks if c.ids is not None])
    assert ids.to_pylist() == table.column("id").to_pylist()
    assert all(c.checked.errors == [] for c in chunks)


def test_a_resumed_source_numbers_rows_from_where_it_starts(write_subset: WriteSubset) -> None:
    table = pacsv.read_csv(write_subset(rows=6))
    source = TableChunks(iter([table]), start_row=101, id_column=None, allow_unknown=False)
    assert [c.checked.start_row for c in _drain(source, [4, 4])] == [101, 105]


def test_records_are_checked_one_by_one_and_numbered_from_1(write_subset: WriteSubset) -> None:
    records = pacsv.read_csv(write_subset(rows=5)).select(list(FEATURE_COLUMNS)).to_pylist()
    records[3]["age"] = "old"
    chunks = _drain(RecordChunks(aiter_records(records), allow_unknown=False), [2, 2, 2, 2])
    assert [(c.checked.start_row, c.checked.num_rows) for c in chunks] == [(1, 2), (3, 2), (5, 1)]
    assert [(e.row, e.field) for c in chunks for e in c.checked.errors] == [(4, "age")]
    assert [len(c.checked.records_json) for c in chunks] == [2, 1, 1]
