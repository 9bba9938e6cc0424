"""``score_spark``: a Spark DataFrame in, one scored row per input row out, at one global in-flight budget.

Output schema: the input's id column (``id_column``, else the first of ``id``, ``customer_id``, ... present, else
none), or with ``keep_columns`` every input column, then ``prediction`` (string), ``probability`` (double, P(yes),
when ``proba``, by default wherever the endpoint offers it) and ``error`` (string: why a row was refused, in the
CLI's words; null when scored). Rows keep their order within each partition; a refused row has a null prediction
and is never sent.

Partitions run :class:`~bankmarketing_client.spark.partition.PartitionScorer` through ``mapInArrow``: Spark's
Arrow batches go to the batch engine's columnar validation as they are. ``mapInPandas`` was measured against it
(``bench/bench_spark_partition.py``, 100,000 rows, local[2], a local endpoint on the same 2 cores, medians of 3):
16,100 rows/s scored against 13,600 for the same scorer behind ``mapInPandas``, and 37,300 against 32,400 rows/s
for the transport alone; a pandas round trip each way buys nothing, since the engine works on Arrow.

Exactly once: scoring is a pure function of a row, so a task Spark re-runs (a crashed worker, a lost executor) or
runs twice (speculation) yields the same rows, and Spark's output committer keeps one attempt's files per partition:
``score_spark(df).write.parquet(path)`` holds each input row once. A ``foreachBatch`` sink or a Delta ``MERGE``
of your own gets the same guarantee only if it is idempotent per batch (Delta's ``txnAppId``/``txnVersion``
options, or a MERGE on the id column); a plain append from ``foreach`` may see a re-run task's rows twice.

Budget: see :mod:`.budget`. ``max_in_flight`` wins; otherwise ``limits``, or else a discovered ``endpoint`` that
knows it (anything with a ``pending_limit``: v2 discovery's ``OnlineEndpointInfo`` or ``DeploymentInfo``, the local
endpoint's ``limits``; :func:`~.budget.pending_limit` computes Azure's ``2 x max_concurrent_requests_per_instance x
instance_count`` from plain numbers), else Azure's default deployment's 2. The budget is split over the
SparkContext's ``defaultParallelism`` slots; with more slots than budget the input is coalesced to ``budget``
partitions, one request each (a speculative copy can then add one request while it runs: turn speculation off or
raise the budget if the endpoint's 429s matter more than stragglers).

Credentials reach the executors as described in :mod:`.credentials`: keys sealed, a token provider pickled as it
is (so it must pickle, and hold no secret itself: ``token_file_provider`` does; azureml-core's and azure-ai-ml's
providers hold their management clients and do not).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from bankmarketing_client.auth import Secret, TokenProvider, check_credential_url
from bankmarketing_client.batch.readers import ID_CANDIDATES
from bankmarketing_client.contract import Contract
from bankmarketing_client.data import FEATURE_COLUMNS
from bankmarketing_client.errors import ConfigurationError, DatasetError
from bankmarketing_client.spark.budget import EndpointLimits, plan_budget, resolve_budget
from bankmarketing_client.spark.credentials import ExecutorCredentials
from bankmarketing_client.spark.partition import (
    ERROR_COLUMN,
    PREDICTION_COLUMN,
    PROBABILITY_COLUMN,
    PartitionScorer,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

    from bankmarketing_client.azureml.discovery import ServiceEndpoint
    from bankmarketing_client.azureml.v2.discovery import OnlineEndpointInfo

logger = logging.getLogger("bankmarketing_client.spark")


def score_spark(
    df: DataFrame,
    *,
    scoring_uri: str | None = None,
    endpoint: ServiceEndpoint | OnlineEndpointInfo | None = None,
    api_key: str | Secret | None = None,
    secondary_key: str | Secret | None = None,
    token_provider: TokenProvider | None = None,
    deployment: str | None = None,
    contract: str | None = None,
    proba: bool | None = None,
    id_column: str | None = None,
    keep_columns: bool = False,
    max_in_flight: int | None = None,
    limits: EndpointLimits | None = None,
    batch_size: int | None = None,
    allow_unknown_categories: bool = False,
    allow_insecure_http: bool = False,
) -> DataFrame:
    """``df`` scored: see the module docstring for the output schema, the budget and what "exactly once" means.

    The endpoint is ``scoring_uri`` with ``api_key``/``secondary_key`` or ``token_provider``, or a discovered
    ``endpoint`` (v1 ``ServiceEndpoint`` or v2 ``OnlineEndpointInfo``: its URI, credentials, pinned deployment and
    pending limit), or ``$BANKMARKETING_SCORING_URI`` / ``$BANKMARKETING_API_KEY`` /
    ``$BANKMARKETING_SECONDARY_KEY`` / ``$BANKMARKETING_DEPLOYMENT`` read here, on the driver (executors never read
    the environment). The contract is read from the endpoint's swagger once, on the driver, unless given.
    ``batch_size`` fixes the rows per request (default: tuned per task, as the single-process scorer does).
    A key or token bound for a plain ``http://`` URI that is not loopback is refused here, on the driver, before any
    task is planned, unless ``allow_insecure_http`` (the client's rule; the executors are given the same choice).
    Lazy like any transformation: nothing is sent until an action runs.
    """
    from bankmarketing_client.client import ENV_API_KEY, ENV_DEPLOYMENT, ENV_SCORING_URI, ENV_SECONDARY_KEY

    if endpoint is not None:
        if scoring_uri or api_key or secondary_key or token_provider:
            raise ConfigurationError("give either a discovered endpoint or a scoring URI and credentials, not both")
        if getattr(endpoint, "credential", None) is not None:
            raise ConfigurationError(
                "an aad_token endpoint's credential cannot be shipped to Spark's executors; pass a picklable "
                "token_provider that obtains the token on the executor (a managed identity, a token file)"
            )
        scoring_uri = endpoint.scoring_uri
        api_key, secondary_key, token_provider = endpoint.primary_key, endpoint.secondary_key, endpoint.token_provider
        deployment = deployment or getattr(endpoint, "deployment", None)
        if limits is None and hasattr(endpoint, "pending_limit"):
            limits = endpoint
    else:
        scoring_uri = scoring_uri or os.environ.get(ENV_SCORING_URI)
        if token_provider is None:
            api_key = api_key or os.environ.get(ENV_API_KEY) or None
            secondary_key = secondary_key or os.environ.get(ENV_SECONDARY_KEY) or None
    deployment = deployment or os.environ.get(ENV_DEPLOYMENT) or None
    if not scoring_uri:
        raise ConfigurationError(f"no scoring URI: pass scoring_uri= or an endpoint, or set ${ENV_SCORING_URI}")
    if token_provider is not None and (api_key or secondary_key):
        raise ConfigurationError("give either keys or a token provider, not both")
    primary = _secret(api_key)
    secondary = _secret(secondary_key)
    if secondary is not None and primary is None:
        raise ConfigurationError("a secondary key was given without a primary key")
    if primary is not None or token_provider is not None:
        check_credential_url(scoring_uri, allow_insecure_http=allow_insecure_http)

    passthrough = _passthrough(df, id_column, keep_columns)
    # The whole contract travels to the tasks, not only its family: an MLflow deployment's swagger says whether it
    # answers probabilities, and in which column order it wants the values.
    found = (
        Contract.of(contract)
        if contract
        else _detect_contract(scoring_uri, primary, token_provider, deployment, allow_insecure_http)
    )
    proba = found.supports_proba if proba is None else proba  # by default, probabilities where they are offered
    found.check_method("predict_proba" if proba else "predict")  # here, not once per task
    session = df.sparkSession
    context = session.sparkContext
    plan = plan_budget(resolve_budget(max_in_flight, limits), context.defaultParallelism)
    logger.info(
        "scoring with at most %d requests in flight: %d per task over %d slots", plan.peak, plan.per_task, plan.slots
    )
    scorer = PartitionScorer(
        scoring_uri=scoring_uri,
        contract=found,
        credentials=ExecutorCredentials.seal(context, primary, secondary, token_provider),
        proba=proba,
        passthrough=passthrough,
        per_task=plan.per_task,
        batch_size=batch_size,
        deployment=deployment,
        allow_unknown_categories=allow_unknown_categories,
        allow_insecure_http=allow_insecure_http,
    )
    source = _plain_names(df, scorer.columns)
    if plan.max_tasks is not None and source.rdd.getNumPartitions() > plan.max_tasks:
        source = source.coalesce(plan.max_tasks)
    return source.mapInArrow(scorer, _output_schema(df.schema, passthrough, proba))


def _plain_names(df: DataFrame, columns: tuple[str, ...]) -> DataFrame:
    """The columns a task reads, renamed ``_c0``, ``_c1``, ...: ``mapInArrow`` resolves each input column by name,
    and Spark reads the dots in ``emp.var.rate`` as struct fields (the task puts the real names back)."""
    from pyspark.sql import functions as F

    return df.select([F.col("`" + name.replace("`", "``") + "`").alias(f"_c{i}") for i, name in enumerate(columns)])


def _secret(value: str | Secret | None) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    return Secret(value)


def _passthrough(df: DataFrame, id_column: str | None, keep_columns: bool) -> tuple[str, ...]:
    """The input columns copied to the output; also checks that every feature column is there."""
    columns = list(df.columns)
    missing = [c for c in FEATURE_COLUMNS if c not in columns]
    if missing:
        raise DatasetError(f"the DataFrame is missing column(s) {', '.join(missing)}")
    clashes = {PREDICTION_COLUMN, PROBABILITY_COLUMN, ERROR_COLUMN} & set(columns)
    if keep_columns:
        if clashes:
            raise DatasetError(f"the DataFrame already has column(s) {', '.join(sorted(clashes))}; rename them")
        return tuple(columns)
    if id_column is not None:
        if id_column not in columns:
            raise DatasetError(f"the id column {id_column!r} is not in the DataFrame ({', '.join(columns)})")
        if id_column in FEATURE_COLUMNS or id_column in clashes:
            raise DatasetError(f"the id column {id_column!r} is a feature or an output column; choose another")
        return (id_column,)
    lowered = {c.lower(): c for c in columns}
    return next(((lowered[c],) for c in ID_CANDIDATES if c in lowered), ())


def _detect_contract(
    scoring_uri: str,
    api_key: Secret | None,
    token_provider: TokenProvider | None,
    deployment: str | None,
    allow_insecure_http: bool,
) -> Contract:
    """The endpoint's contract, read from its swagger once here rather than once per task."""
    from bankmarketing_client.client import ScoringClient

    with ScoringClient(
        scoring_uri,
        api_key,
        token_provider=token_provider,
        deployment=deployment,
        use_env=False,
        allow_insecure_http=allow_insecure_http,
    ) as client:
        return client.detect_contract()


def _output_schema(schema: StructType, passthrough: tuple[str, ...], proba: bool) -> StructType:
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    fields = [schema[name] for name in passthrough]
    fields.append(StructField(PREDICTION_COLUMN, StringType(), nullable=True))
    if proba:
        fields.append(StructField(PROBABILITY_COLUMN, DoubleType(), nullable=True))
    fields.append(StructField(ERROR_COLUMN, StringType(), nullable=True))
    return StructType(fields)
