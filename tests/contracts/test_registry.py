"""The contract registry: a family registered in one place is offered everywhere a list of families is asked for.

The family registered here is made up (a ``rows`` body); it is removed again after each test. The CLI parsers,
``local serve``, the docs server, codegen and the Locust options are the real ones, built after registering.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bankmarketing_client import contracts
from bankmarketing_client.contract import Contract, detect_contract, records_from_document
from bankmarketing_client.contracts import CodegenSettings, Family, Method
from bankmarketing_client.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]


class Rows(Family):
    """A made-up family: ``{"rows": [...]}``, recognised by its ``rows`` property; offers probabilities."""

    name: ClassVar[str] = "test-rows"
    summary: ClassVar[str] = '`{"rows": [record, ...]}`'
    source: ClassVar[str] = "this test"
    codegen: ClassVar[CodegenSettings | None] = CodegenSettings(records_parent=(), answer="bare-list")
    local_entry: ClassVar[str | None] = "bankmarketing_client.local.mlflow_score"
    local_model: ClassVar[str | None] = "bankmarketing_client.local.mlflow_model:prepare"
    records_member: ClassVar[tuple[str, ...]] = ("rows",)

    def offers_proba(self, options: Mapping[str, Any]) -> bool:
        return True

    def build_body(
        self, records: Sequence[Mapping[str, Any]], method: Method, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {"rows": list(records), "how": method}

    def body_bytes(self, records_json: bytes, rows: int, method: Method, options: Mapping[str, Any]) -> bytes:
        return b'{"rows":%s,"how":"%s"}' % (records_json, method.encode())

    def recognise(
        self, properties: Mapping[str, Any], schema: Mapping[str, Any], answer: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        return {} if "rows" in properties else None


@pytest.fixture
def registered() -> Iterator[Family]:
    family = contracts.register(Rows())
    try:
        yield family
    finally:
        contracts.unregister(family.name)


def _choices(parser: argparse.ArgumentParser, *path: str) -> tuple[str, ...]:
    """The ``--contract`` choices of the (sub)command at ``path``."""
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    action = next(a for a in parser._actions if "--contract" in a.option_strings)
    return tuple(action.choices or ())


def test_the_builtin_families_and_their_offers() -> None:
    assert contracts.names() == ("inputs", "data", "data-method", "mlflow")
    assert contracts.served_locally() == ("inputs", "data", "mlflow")
    assert [Contract.of(n).supports_proba for n in contracts.names()] == [True, False, False, False]
    assert Contract("mlflow", probabilities=True).supports_proba
    with pytest.raises(ConfigurationError, match="unknown contract 'nope'; expected one of inputs, data, data-method"):
        Contract.of("nope")


def test_a_family_registered_once_is_offered_by_every_cli_list(registered: Family) -> None:
    from bankmarketing_client.cli import build_parser

    parser = build_parser()
    for path in (("predict",), ("score",), ("local", "serve"), ("docs",)):
        assert registered.name in _choices(parser, *path), path


def test_a_registered_family_is_detected_built_and_read_from_files(registered: Family) -> None:
    spec = {
        "swagger": "2.0",
        "paths": {"/score": {"post": {"parameters": [{"in": "body", "schema": {"properties": {"rows": {}}}}]}}},
    }
    contract = detect_contract(spec)
    assert contract == Contract("test-rows") == Contract.of("TEST_ROWS")
    assert contract.build_body([{"age": 1}], method="predict_proba") == {"rows": [{"age": 1}], "how": "predict_proba"}
    assert contract.body_bytes(b"[{}]") == b'{"rows":[{}],"how":"predict"}'
    assert records_from_document({"rows": [{"age": 1}]}, "the file") == [{"age": 1}]


def test_a_registered_family_is_offered_by_codegen(registered: Family) -> None:
    from codegen.cli import main
    from codegen.project import families

    assert registered.name in families()
    with pytest.raises(SystemExit) as exit_info:  # argparse: a family it does not know is exit 2
        main(["snapshot", "--contract", "not-a-family"])
    assert exit_info.value.code == 2


def test_a_registered_family_is_offered_by_the_locust_options() -> None:
    """Locust patches the interpreter with gevent on import, so its parser is built in a process of its own."""
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path[:0] = [{str(ROOT / "loadtest")!r}, {str(ROOT / "tests" / "contracts")!r}]
        from bankmarketing_client import contracts
        from test_registry import Rows
        contracts.register(Rows())
        from locust.argument_parser import LocustArgumentParser
        import _common
        parser = LocustArgumentParser()
        _common._add_options(parser)
        action = next(a for a in parser._actions if "--contract" in a.option_strings)
        print(json.dumps(list(action.choices)))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == ["auto", "inputs", "data", "data-method", "mlflow", "test-rows"]


def test_names_are_checked_when_registering(registered: Family) -> None:
    with pytest.raises(ValueError, match="already registered"):
        contracts.register(Rows())
    odd = type("Odd", (Rows,), {"name": "Odd_Name"})
    with pytest.raises(ValueError, match="lower case"):
        contracts.register(odd())


def test_the_contract_table_lists_every_shape_of_every_family() -> None:
    table = (ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")
    rows = [line for line in table.splitlines() if line.startswith("| v")]
    for family in contracts.families():
        for shape in family.shapes:
            assert any(row.startswith(f"| {shape} |") and f"| `{family.name}` |" in row for row in rows), shape
    assert len(rows) == 8
