"""The endpoint settings file: written from a discovery, read back the same, and every bad file one clear line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bankmarketing_client.azureml.v2.discovery import DeploymentInfo, OnlineEndpointInfo
from bankmarketing_client.errors import ConfigurationError
from bankmarketing_client.settings_file import EndpointSettingsFile, read_settings_file, write_settings_file

INFO = OnlineEndpointInfo(
    name="bank",
    scoring_uri="https://bank.westeurope.inference.ml.azure.com/score",
    openapi_uri="https://bank.westeurope.inference.ml.azure.com/swagger.json",
    auth_mode="key",
    traffic={"blue": 90, "green": 10},
    mirror_traffic={},
    deployments=(
        DeploymentInfo("blue", "Standard_DS3_v2", 2, 2, 3000, False),
        DeploymentInfo("green", "Standard_F4s_v2", 1, 4, 5000, True),
    ),
    primary_key="primary-secret",
    secondary_key="secondary-secret",
)


def test_written_from_a_discovery_without_its_keys_and_read_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    saved = EndpointSettingsFile.from_info(INFO)
    write_settings_file(path, saved)
    assert "secret" not in path.read_text()
    assert read_settings_file(path) == saved
    assert saved.pending_limit == INFO.pending_limit == 8  # blue: 2 x 2 x 2, at 90 % of the traffic
    assert saved.deployments["green"].pending_limit == 8


def test_a_deployment_brings_its_own_limit_and_an_unknown_one_is_refused() -> None:
    saved = EndpointSettingsFile.from_info(INFO)
    green = saved.for_deployment("green")
    assert (green.deployment, green.pending_limit) == ("green", 8)
    assert saved.for_deployment(None) is saved
    with pytest.raises(ConfigurationError, match=r"know no deployment 'red' \(they have: blue, green\)"):
        saved.for_deployment("red")


def _valid() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EndpointSettingsFile.from_info(INFO).to_json())
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("scoring_uri"), "scoring_uri is missing or not a non-empty string"),
        (lambda d: d.update(pending_limit=0), "pending_limit must be a whole number of at least 1, not 0"),
        (lambda d: d.update(pending_limit=True), "pending_limit must be a whole number of at least 1, not True"),
        (lambda d: d.update(auth_mode="basic"), "auth_mode must be one of key, aml_token, aad_token, not 'basic'"),
        (lambda d: d.update(version=2), "version must be 1, not 2"),
        (lambda d: d["deployments"]["blue"].pop("instance_count"), "deployments.blue.instance_count must be"),
        (lambda d: d.update(deployment="red"), "deployment 'red' is not among its deployments"),
        (lambda d: d.update(traffic={"blue": "all"}), "traffic must map deployment names to whole percentages"),
    ],
)
def test_a_bad_field_is_one_line_naming_file_and_field(tmp_path: Path, change: Any, message: str) -> None:
    data = _valid()
    change(data)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigurationError) as caught:
        read_settings_file(path)
    assert str(caught.value).startswith(f"endpoint settings file {path}: {message}")
    assert "\n" not in str(caught.value)


def test_a_missing_file_or_one_that_is_not_json(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"cannot read the endpoint settings file .*: No such file"):
        read_settings_file(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigurationError, match=r"bad\.json: not JSON"):
        read_settings_file(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ConfigurationError, match="the top level must be a JSON object"):
        read_settings_file(tmp_path / "list.json")
