"""``make codegen-check``: regeneration is byte-identical, and any drift (changed, extra, missing) is caught."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codegen.cli import main
from codegen.project import GENERATED, differences, generate_all


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fresh") / "_generated"
    generate_all(root)
    return root


def test_committed_code_is_exactly_what_the_committed_specs_generate(fresh: Path) -> None:
    assert differences(fresh, GENERATED) == []


def test_drift_is_reported_file_by_file(fresh: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(fresh, copy)
    (copy / "inputs" / "client.py").write_text("# edited by hand\n")
    (copy / "data" / "models" / "stray.py").write_text("")
    (copy / "inputs" / "types.py").unlink()
    assert differences(fresh, copy) == [
        "missing from the committed code: inputs/types.py",
        "not produced by the committed specs: data/models/stray.py",
        "differs: inputs/client.py",
    ]


def test_generation_refuses_to_replace_a_folder_it_did_not_make(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    spec = shared_data / "azure-swagger" / "v7-2023-07-inputs-swaggerpath.json"
    assert main(["--spec", str(spec), "--output", str(precious)]) == 2
    assert "was not made by codegen" in capsys.readouterr().err
    assert (precious / "notes.txt").read_text() == "keep me"


def test_a_missing_spec_is_one_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--spec", str(tmp_path / "nope.json"), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("codegen: error: cannot read ")
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_every_generated_operation_exports_what_the_client_core_builds_from(fresh: Path) -> None:
    """codegen/templates adds ``request_kwargs`` / ``parse_response`` to each endpoint module: the client core's
    typed calls are built from them, so a generator upgrade that loses the template must fail here too."""
    operations = [
        module
        for family in ("inputs", "data")
        for module in sorted((fresh / family / "api" / "default").glob("*.py"))
        if module.name != "__init__.py"
    ]
    assert len(operations) == 6  # health, swagger and score, for both families
    for module in operations:
        text = module.read_text(encoding="utf-8")
        assert "\nrequest_kwargs = _get_kwargs\n" in text, module
        assert "\nparse_response = _parse_response\n" in text, module
