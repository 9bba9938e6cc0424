"""Dataset loading: explicit path, environment, cache, download (from a loopback stand-in), and bad files."""

from __future__ import annotations

import http.server
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from bankmarketing_client import data
from bankmarketing_client.errors import DatasetError


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No $BANKMARKETING_DATA and an empty cache, so each source is tried on purpose."""
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setenv(data.CACHE_ENV_VAR, str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def csv_server(train_path: Path) -> Iterator[str]:
    """A loopback HTTP server serving the real CSV: the download code runs for real, without internet."""
    body = train_path.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/bankmarketing_train.csv":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_explicit_path_wins(isolated: Path, train_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.ENV_VAR, str(isolated / "elsewhere.csv"))
    assert data.resolve_train_path(train_path) == train_path


def test_environment_variable(isolated: Path, train_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.ENV_VAR, str(train_path))
    assert data.resolve_train_path() == train_path


def test_environment_variable_to_missing_file_names_it(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.ENV_VAR, str(isolated / "nope.csv"))
    with pytest.raises(DatasetError, match=r"BANKMARKETING_DATA=.*nope\.csv does not exist"):
        data.resolve_train_path()


def test_nothing_available_says_variable_and_url(isolated: Path) -> None:
    with pytest.raises(DatasetError) as info:
        data.resolve_train_path(download=False)
    assert data.ENV_VAR in str(info.value)
    assert data.PUBLIC_URL in str(info.value)


def test_download_into_cache_then_reuse(isolated: Path, csv_server: str, train_path: Path) -> None:
    target = data.cache_dir() / data.TRAIN_FILE_NAME
    got = data.download_dataset(target, f"{csv_server}/bankmarketing_train.csv")
    assert got == target
    assert target.read_bytes() == train_path.read_bytes()
    assert data.resolve_train_path(download=False) == target  # the cached copy is found next time
    assert not list(target.parent.glob(".download-*"))  # no partial file left


def test_download_failure_leaves_no_file(isolated: Path, csv_server: str) -> None:
    target = data.cache_dir() / data.TRAIN_FILE_NAME
    with pytest.raises(DatasetError, match="HTTP 404"):
        data.download_dataset(target, f"{csv_server}/missing.csv")
    assert not target.exists()
    assert not list(target.parent.glob(".download-*"))


def test_unreachable_url_gives_one_clear_error(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bankmarketing_client.local.process import free_port

    monkeypatch.setattr(data, "PUBLIC_URL", f"http://127.0.0.1:{free_port()}/bankmarketing_train.csv")
    with pytest.raises(DatasetError) as info:
        data.resolve_train_path()
    message = str(info.value)
    assert "not found" in message
    assert data.ENV_VAR in message
    assert "ConnectError" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "the file is empty"),
        ("age\tjob\tmarital\n1\t2\t3\n", "cannot split the header"),
        ("age,job,marital,education,default,housing,loan,contact,month,day_of_week,duration,campaign,"
         "pdays,previous,poutcome,emp.var.rate,cons.price.idx,cons.conf.idx,euribor3m,x,y\n", r"missing column\(s\) nr\.employed"),
    ],
)  # fmt: skip
def test_malformed_files(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DatasetError, match=expected):
        data.read_frame(path)


def test_uci_original_semicolon_file_reads_like_the_azure_sample(shared_data: Path, train_path: Path) -> None:
    uci = data.read_frame(shared_data / "bank-additional-full.csv")
    azure = data.read_frame(train_path)
    assert list(uci.columns) == list(azure.columns)
    assert len(uci) == 41188
    assert len(azure) == 32950
    assert dict(uci.dtypes) == dict(azure.dtypes)


def test_non_numeric_column_is_named(tmp_path: Path, train_path: Path) -> None:
    lines = train_path.read_text().splitlines()[:3]
    lines[2] = "forty" + lines[2][2:]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match="'age' must hold whole numbers"):
        data.read_frame(path)


def test_iter_rows_streams_strings(train_path: Path) -> None:
    first = next(data.iter_rows(train_path))
    assert first["age"] == "57"
    assert first["job"] == "technician"
    assert first["y"] == "no"


def test_iter_rows_names_the_row_of_a_field_past_the_csv_limit(tmp_path: Path, train_path: Path) -> None:
    """A dataset row with a field longer than csv's limit: one DatasetError naming the row, not ``_csv.Error``."""
    lines = train_path.read_text().splitlines()[:4]
    lines[2] = '"' + "x" * (data.MAX_LINE_BYTES + 10) + '"' + lines[2][lines[2].index(",") :]
    path = tmp_path / "huge-field.csv"
    path.write_text("\n".join(lines) + "\n")
    rows = data.iter_rows(path)
    assert next(rows)["age"] == "57"
    with pytest.raises(DatasetError, match=r"huge-field\.csv: data row 2: field larger than field limit"):
        next(rows)


def test_server_side_feature_order_is_the_generated_one() -> None:
    """The server side keeps its own column list (it must not import client code); it must match codegen's."""
    from bankmarketing_client.features import FEATURE_NAMES

    assert tuple(FEATURE_NAMES) == data.FEATURE_COLUMNS


def test_a_huge_header_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    """A 1 GiB header line (a sparse file: no disk used) costs at most two capped lines, not the line."""
    path = tmp_path / "huge.csv"
    with path.open("wb") as fh:
        fh.write(b"age,job,")
        fh.seek(2**30, 1)
        fh.write(b"\n57,technician\n")
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match=r"the header line is longer than 131,072 bytes"):
            data.read_header(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * data.MAX_LINE_BYTES


def test_first_lines_ends_lines_as_csv_does_and_cuts_a_long_one(tmp_path: Path) -> None:
    path = tmp_path / "lines.csv"
    path.write_bytes(b"a,b\r\n1,2\r3,4\n" + b"x" * (data.MAX_LINE_BYTES + 5))
    assert data.first_lines(path, 3) == [b"a,b", b"1,2", b"3,4"]
    assert data.first_lines(path, 9)[3] == b"x" * (data.MAX_LINE_BYTES + 1)  # cut: the caller sees it is too long
    path.write_bytes(b"x" * data.MAX_LINE_BYTES)
    assert data.first_lines(path, 2) == [b"x" * data.MAX_LINE_BYTES]  # exactly the cap: kept whole
