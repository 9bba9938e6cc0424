"""Contract fuzzing: schemathesis against both contract families, through the front.

Target: the endpoint's own OpenAPI 3 document (``GET /swagger.json?version=3``, the same contract as the default
2.0 one), tightened by :func:`contract_schema` with the rules the entry script enforces but inference-schema cannot
write into a swagger. Cases are positive and negative, seeded and derandomised, a bounded number per operation.

What every answer must satisfy (:func:`judge`):

* never a 5xx from the front. 500 and 502 are defects; 503 means the container refused connections (it died);
  408 cannot occur (the request timeout is raised to a minute and the model answers in milliseconds); 429 cannot
  occur (no injected faults, pending limit raised, and cases are sent one at a time);
* a 424 wraps a 4xx from the container, never a 5xx (that is the script crashing), except for a body that is
  not UTF-8, which the real inference server itself answers with a 500 before the script runs (kept: a deployed
  endpoint answers so, see :func:`judge`);
* ``/score`` with a body the contract accepts: 200 and one answer per record;
* ``/score`` with a body the contract refuses: a 424 whose ``ms-azureml-model-error-reason`` starts with the JSON
  path of an offending field (``GlobalParameters.method: ...``), or, in the ``data`` family, its documented 200
  with a double-encoded ``{"error": ...}`` starting with that path.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import hypothesis
import jsonschema  # type: ignore[import-untyped]
import pytest
import schemathesis
from openapi_schema_validator import OAS30Validator
from schemathesis import GenerationMode
from schemathesis.core import NotSet
from schemathesis.core.result import Ok

from bankmarketing_client.local.endpoint import Contract, LocalEndpoint

SEED = 11
#: Per operation and generation mode; with the coverage phase's own cases this keeps the module around a minute.
MAX_EXAMPLES = 40
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
METHODS = ("predict", "predict_proba")
Operation = schemathesis.APIOperation[Any, Any, Any, Any]
FuzzCase = schemathesis.Case[Operation]
RECORD_PATHS = {"inputs": ("Inputs", "data"), "data": ("data",)}


def contract_schema(served: dict[str, Any], family: str) -> dict[str, Any]:
    """The served document plus what the entry script enforces and inference-schema cannot express.

    * the records parameter is required (the script has nothing to score without it);
    * records have exactly the model's fields (``additionalProperties: false``) and there is at least one;
    * ``"format": "int64"`` becomes the bounds it means, so that out-of-range integers are generated too;
    * ``GlobalParameters.method`` is one of ``predict``, ``predict_proba`` (the served swagger says ``string``);
    * ``GlobalParameters`` may be null: the server hands a missing parameter to ``run()`` as None, so null and
      absent cannot be told apart, and both mean ``predict``;
    * the body is required (without one the server answers 415 before the script runs).
    """
    spec = copy.deepcopy(served)
    service_input = spec["components"]["schemas"]["ServiceInput"]
    service_input["required"] = [RECORD_PATHS[family][0]]
    records = service_input
    for name in RECORD_PATHS[family]:
        records = records["properties"][name]
    records["minItems"] = 1
    records["items"]["additionalProperties"] = False
    for prop in records["items"]["properties"].values():
        if prop.get("format") == "int64":
            prop.update(minimum=INT64_MIN, maximum=INT64_MAX)
    if family == "inputs":
        global_parameters = service_input["properties"]["GlobalParameters"]
        global_parameters["nullable"] = True
        global_parameters["properties"]["method"]["enum"] = list(METHODS)
    spec["paths"]["/score"]["post"]["requestBody"]["required"] = True
    return spec


def _whole_number(checker: Any, instance: Any) -> bool:
    """JSON has one number type: ``5.0`` is the integer 5 (JSON Schema draft 6 on, and the script, agree)."""
    if isinstance(instance, bool):
        return False
    return isinstance(instance, int) or (isinstance(instance, float) and instance.is_integer())


ContractValidator = jsonschema.validators.extend(
    OAS30Validator, type_checker=OAS30Validator.TYPE_CHECKER.redefine("integer", _whole_number)
)


def _path(parts: Any) -> str:
    """``["Inputs", "data", 0, "age"]`` -> ``Inputs.data[0].age``: the notation of the script's messages."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def violations(schema: dict[str, Any], body: Any) -> set[str]:
    """The JSON paths a correct answer may name: where the body breaks the contract (``body`` for the root)."""
    found: set[str] = set()
    for error in ContractValidator(schema).iter_errors(body):
        parts = list(error.absolute_path)
        if error.validator == "required":
            parts += [name for name in error.validator_value if name not in error.instance][:1]
        found.add(_path(parts) or "body")
    return found


def names_a_violation(message: str, paths: set[str]) -> bool:
    """The message starts with one offending path.

    The server itself answers for the body as a whole, before the script runs: 'POST body should be a JSON
    dictionary.', or 'Expects Content-Type to be application/json' when there is none.
    """
    if "body" in paths and ("body" in message or "Content-Type" in message):
        return True
    return any(message.startswith(f"{path}:") for path in paths)


def _body(case: FuzzCase) -> Any:
    return None if isinstance(case.body, NotSet) else case.body


def not_utf8(case: FuzzCase) -> bool:
    """A raw body the server cannot decode to text (negative generation sends such bytes). The server's
    ``json.loads`` decodes bytes as :func:`json.detect_encoding` says, so ``b"\\x00\\xdb"`` is UTF-16 text to it
    (a 400, "could not be decoded as JSON"), not an undecodable body."""
    body = _body(case)
    if not isinstance(body, bytes):
        return False
    try:
        body.decode(json.detect_encoding(body), "surrogatepass")  # what json.loads does with bytes
    except UnicodeDecodeError:
        return True
    return False


def _header(response: schemathesis.Response, name: str) -> str:
    values = next((v for k, v in response.headers.items() if k.lower() == name), [])
    return values[0] if values else ""


def judge(family: str, spec: dict[str, Any], case: FuzzCase, response: schemathesis.Response) -> None:
    """The rules of the module docstring, for one case."""
    status = response.status_code
    where = f"{case.method} {case.formatted_path} {_body(case)!r:.300}: {status} {response.text_lossy()[:300]!r}"
    assert status < 500, f"a {status} from the front: {where}"
    model_status = int(_header(response, "ms-azureml-model-error-statuscode") or 0)
    if not_utf8(case):
        # The real inference server fails to decode such a body before the script runs and answers 500 "An
        # unexpected internal error occurred"; Azure's front wraps that in a 424 like any container error. The
        # stand-in keeps that answer (it is what a deployed endpoint gives) rather than inventing a nicer one.
        assert (status, model_status) == (424, 500), f"a body that is not UTF-8: {where}"
        assert "unexpected internal error" in response.text_lossy(), where
        return
    if status == 424:
        assert 400 <= model_status < 500, f"the container answered {model_status}: {where}"
    if case.path != "/score":
        return
    body = _body(case)
    paths = violations(spec["components"]["schemas"]["ServiceInput"], body)
    if not paths:
        assert status == 200, f"a body the contract accepts was refused: {where}"
        records: Any = body
        for name in RECORD_PATHS[family]:
            records = records[name]
        answer = response.json()
        if family == "inputs":
            method = (body.get("GlobalParameters") or {}).get("method", "predict")
            results = answer["Results"]
            assert len(results) == len(records)
            if method == "predict":
                assert set(results) <= {"no", "yes"}
            else:
                assert all(math.isclose(sum(pair), 1.0) for pair in results)
        else:
            result = json.loads(answer)["result"]
            assert len(result) == len(records)
            assert set(result) <= {"no", "yes"}
        return
    if status == 200:
        assert family == "data", f"a body that breaks the contract was scored ({sorted(paths)}): {where}"
        error = json.loads(response.json()).get("error", "")
        assert names_a_violation(error, paths), f"the error names none of {sorted(paths)}: {where}"
        return
    assert status == 424, f"expected the container's refusal (a 424) for {sorted(paths)}: {where}"
    reason = _header(response, "ms-azureml-model-error-reason")
    assert names_a_violation(reason, paths), f"the reason {reason!r} names none of {sorted(paths)}: {where}"


def _own_endpoint(contract: Contract) -> Iterator[LocalEndpoint]:
    """An endpoint of its own: raised limits, so that only the contract decides an answer."""
    with LocalEndpoint(contract=contract, worker_count=1, max_pending=1000, request_timeout_ms=60_000) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def fuzz_endpoint_inputs() -> Iterator[LocalEndpoint]:
    yield from _own_endpoint("inputs")


@pytest.fixture(scope="module")
def fuzz_endpoint_data() -> Iterator[LocalEndpoint]:
    yield from _own_endpoint("data")


def fuzz(
    schema: schemathesis.BaseSchema, send: Callable[[FuzzCase], None], *, max_examples: int = MAX_EXAMPLES
) -> list[str]:
    """Run every operation of ``schema`` in both generation modes; return what failed (empty: all passed).

    Failures are collected rather than raised, so that one run reports every kind of fault it meets (and
    Hypothesis does not spend the time budget shrinking real HTTP exchanges).
    """
    failures: list[str] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the served document has an operation schemathesis cannot read: {result}"
        operation = result.ok()
        # GET / has nothing a request could get wrong: negative cases exist only where there is input.
        has_input = bool(len(operation.query) or len(operation.headers) or len(operation.body))
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)[: 2 if has_input else 1]:
            _fuzz_one(operation, mode, send, failures, max_examples)
    return failures


def _fuzz_one(
    operation: Operation,
    mode: GenerationMode,
    send: Callable[[FuzzCase], None],
    failures: list[str],
    max_examples: int,
) -> None:
    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case: FuzzCase) -> None:
        try:
            send(case)
        except AssertionError as exc:
            failures.append(f"[{mode.value}] {exc}")

    run()


@pytest.mark.parametrize("family", ["inputs", "data"])
def test_fuzz_contract_through_the_front(family: str, request: pytest.FixtureRequest) -> None:
    """Positive and negative cases for every operation, sent with a valid key: only the contract decides."""
    endpoint: LocalEndpoint = request.getfixturevalue(f"fuzz_endpoint_{family}")
    served = httpx.get(endpoint.swagger_uri, params={"version": "3"}, timeout=30).json()
    spec = contract_schema(served, family)
    schema = schemathesis.openapi.from_dict(spec)
    schema.config.generation.update(with_security_parameters=False)
    headers = {"Authorization": f"Bearer {endpoint.primary_key}"}

    def send(case: FuzzCase) -> None:
        response = case.call(base_url=endpoint.base_url, headers=headers, timeout=90)
        judge(family, spec, case, response)

    failures = fuzz(schema, send)
    assert not failures, f"{len(failures)} failing cases, the first ones:\n" + "\n".join(failures[:12])


def test_fuzz_authorization_header_through_the_front(fuzz_endpoint_inputs: LocalEndpoint) -> None:
    """Schemathesis writes the ``Authorization`` header itself (no key): every answer is the front's 401.

    The header is the one input the front reads itself (the container does no authentication), so this is where
    the front's own parsing meets arbitrary bytes. Never a 5xx; never anything but 401 (no generated value is a key).
    """
    endpoint = fuzz_endpoint_inputs
    served = httpx.get(endpoint.swagger_uri, params={"version": "3"}, timeout=30).json()
    schema = schemathesis.openapi.from_dict(contract_schema(served, "inputs")).include(path="/score")
    schema.config.generation.update(with_security_parameters=True)

    def send(case: FuzzCase) -> None:
        response = case.call(base_url=endpoint.base_url, timeout=90)
        where = f"Authorization {case.headers.get('Authorization')!r}: {response.status_code}"
        assert response.status_code == 401, where

    failures = fuzz(schema, send, max_examples=30)
    assert not failures, f"{len(failures)} failing cases, the first ones:\n" + "\n".join(failures[:12])
