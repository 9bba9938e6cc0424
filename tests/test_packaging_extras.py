"""Every Azure and Spark extra, installed from the wheel alone into a clean venv, works there as a user would have it.

The development venv holds every extra at once, beside the local endpoint's server pins, so it cannot show what a
user who installs one extra gets: here each extra gets a venv of its own (``pip install 'wheel[extra]'``; pip's
cache keeps each install to about 15 to 30 s), a clean ``pip check``, its imports, and one real call from that venv
against a stand-in or a local endpoint that runs in the test process, on loopback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

# The v1 management stand-in lives beside the Azure tests; its folder is on sys.path only when a test there was
# collected first, so it is added here (test folders have no __init__.py: "azureml" would be azureml-core).
sys.path.insert(0, str(Path(__file__).resolve().parent / "azureml"))

from arm_standin import CLIENT_ID, CLIENT_SECRET, RESOURCE_GROUP, SUBSCRIPTION, TENANT, WORKSPACE, ArmStandin
from arm_standin_batch import BatchState, batch_endpoint
from azureml_standin import AAD_TOKEN, ARM_SCOPE, ManagementStandin

from bankmarketing_client.local.endpoint import LocalEndpoint

# test_packaging's module-scoped ``wheel`` fixture: the wheel, built once from a copy of the tree.
pytest_plugins = ["azureml_standin", "arm_standin", "arm_standin_batch", "test_packaging"]


def install(wheel: Path, extra: str, where: Path) -> Path:
    """A fresh venv holding the wheel with ``extra`` and nothing else; its python.

    ``--no-compile``: byte-compiling every installed module was 40 % of the install here (38 s against 23 s for
    ``[azureml-v2]``), and it changes nothing pip resolves; the probes compile what they import."""
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check",
         f"{wheel}[{extra}]"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return python


def pip_check(python: Path) -> None:
    result = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def run_probe(python: Path, code: str, *, env: dict[str, str], cwd: Path, timeout: float = 120) -> str:
    """Run ``code`` in the venv (outside the checkout, so the installed package is the one imported); its stdout.

    Secrets reach it through ``env``, never argv."""
    result = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, timeout=timeout, cwd=cwd,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), **env},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_azureml_v2_extra_runs_a_batch_job_with_the_installed_cli(
    wheel: Path, tmp_path: Path, arm_standin: ArmStandin, batch_state: BatchState
) -> None:
    """``[azureml-v2]`` (azure-ai-ml, azure-identity) alone: ``pip check`` is clean (azure-ai-ml's telemetry stack
    resolves freely without the local endpoint's pins), and the installed ``bankmarketing-client`` starts a batch
    job and follows it to completion through the real SDK, pointed at the stand-in as a custom cloud."""
    python = install(wheel, "azureml-v2", tmp_path / "venv")
    pip_check(python)
    batch_state.endpoints["bank-batch"] = batch_endpoint(arm_standin.url, "bank-batch")
    env = {
        "AZURE_TENANT_ID": TENANT,
        "AZURE_CLIENT_ID": CLIENT_ID,
        "AZURE_CLIENT_SECRET": CLIENT_SECRET,
        "REQUESTS_CA_BUNDLE": str(arm_standin.ca_path),
    }
    cli = [
        str(python.parent / "bankmarketing-client"), "batch-endpoint", "invoke", "bank-batch",
        "--input", "https://bankdata.blob.core.windows.net/batch/customers.csv", "--wait", "--poll-interval", "0.01",
        "--auth", "service-principal", "--subscription-id", SUBSCRIPTION, "--resource-group", RESOURCE_GROUP,
        "--workspace-name", WORKSPACE, "--arm-endpoint", arm_standin.url,
        "--authority", arm_standin.url, "--management-timeout", "60",
    ]  # fmt: skip
    result = subprocess.run(
        cli, capture_output=True, text=True, timeout=180, cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), **env},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    name, studio, final = result.stdout.splitlines()
    assert name.startswith("batchjob-")
    assert studio.startswith("https://ml.azure.com/runs/" + name)
    assert final == "Completed"
    assert CLIENT_SECRET not in result.stdout + result.stderr
    assert arm_standin.requests_to("/inference/bank-batch/jobs", "POST")
    no_v1 = "import sys, bankmarketing_client.azureml.v2.batch_endpoints\nassert 'azureml.core' not in sys.modules\n"
    run_probe(python, no_v1, env={}, cwd=tmp_path)


def test_azureml_v1_extra_triggers_a_published_pipeline(
    wheel: Path, tmp_path: Path, standin: ManagementStandin
) -> None:
    """``[azureml]`` (azureml-core): the v1 pipeline trigger with azureml-core's own auth header, from its venv."""
    python = install(wheel, "azureml", tmp_path / "venv")
    pip_check(python)
    standin.state.pipelines.add("p1")
    probe = (
        "import os, sys\n"
        "from azureml.core.authentication import ArmTokenAuthentication\n"
        "from bankmarketing_client.azureml import trigger_pipeline\n"
        "assert 'azure.ai.ml' not in sys.modules\n"
        "auth = ArmTokenAuthentication(os.environ['PROBE_TOKEN'])\n"
        "print(trigger_pipeline(os.environ['PROBE_URL'], auth=auth, experiment='retrain', timeout=30))\n"
    )
    url = f"{standin.url}/pipelines/v1.0{ARM_SCOPE}/PipelineRuns/PipelineSubmit/p1"
    out = run_probe(python, probe, env={"PROBE_TOKEN": AAD_TOKEN, "PROBE_URL": url}, cwd=tmp_path)
    assert out.split() == ["run-0001"]
    (post,) = standin.requests_to("/PipelineSubmit/p1", "POST")
    sent_token = post.headers["authorization"] == f"Bearer {AAD_TOKEN}"
    assert sent_token  # a boolean: a failing assert does not print the header
    assert post.json() == {"ExperimentName": "retrain", "ParameterAssignments": {}}


def test_spark_extra_scores_a_tiny_frame_on_local_spark(
    wheel: Path, tmp_path: Path, endpoint_inputs: LocalEndpoint
) -> None:
    """``[spark]``: a two-row DataFrame scored through ``score_spark`` on a local Spark (Java from system-deps).

    PYSPARK_PYTHON names the venv's python: Spark's workers start ``python3`` from PATH, and a venv used without
    activating it is not on PATH (found here: the workers failed with "No module named 'pyarrow'")."""
    python = install(wheel, "spark", tmp_path / "venv")
    pip_check(python)
    rows = tmp_path / "rows.csv"
    source = Path(os.environ["BANKMARKETING_DATA"]).read_text(encoding="utf-8").splitlines()[:3]
    rows.write_text("\n".join(source) + "\n", encoding="utf-8")
    probe = (
        "import os, sys\n"
        "from pyspark.sql import SparkSession\n"
        "from bankmarketing_client.spark import score_spark\n"
        "spark = SparkSession.builder.master('local[1]').config('spark.ui.enabled', 'false').getOrCreate()\n"
        "df = spark.read.csv(os.environ['PROBE_ROWS'], header=True, inferSchema=True).drop('y')\n"
        "scored = score_spark(df, scoring_uri=os.environ['PROBE_URI']).collect()\n"
        "for row in scored:\n"
        "    print(row['prediction'], row['error'] is None)\n"
        "spark.stop()\n"
    )
    env = {
        "PROBE_ROWS": str(rows),
        "PROBE_URI": endpoint_inputs.scoring_uri,
        "BANKMARKETING_API_KEY": endpoint_inputs.primary_key,
        "PYSPARK_PYTHON": str(python),
        "JAVA_HOME": os.environ.get("JAVA_HOME", ""),
    }
    out = run_probe(python, probe, env=env, cwd=tmp_path, timeout=180)
    lines = out.split("\n")[-3:-1]
    assert len(lines) == 2, out
    assert all(line.split()[0] in {"yes", "no"} and line.split()[1] == "True" for line in lines), out
