from http import HTTPStatus
from typing import Any

import httpx

from ...client import AuthenticatedClient, Client
from ...models.service_input import ServiceInput
from ...models.service_output import ServiceOutput
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: ServiceInput | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/score",
    }

    if not isinstance(body, Unset):
        _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ServiceOutput | str:
    if response.status_code == 200:
        response_200 = ServiceOutput.from_dict(response.json())

        return response_200

    response_default = response.text
    return response_default


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ServiceOutput | str]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: ServiceInput | Unset = UNSET,
) -> Response[ServiceOutput | str]:
    """Run web service's model and get the prediction output

    Args:
        body (ServiceInput | Unset):  Example: {'Inputs': {'data': [{'age': 57, 'job':
            'technician', 'marital': 'married', 'education': 'high.school', 'default': 'no',
            'housing': 'no', 'loan': 'yes', 'contact': 'cellular', 'month': 'may', 'day_of_week':
            'mon', 'duration': 371, 'campaign': 1, 'pdays': 999, 'previous': 1, 'poutcome': 'failure',
            'emp.var.rate': -1.8, 'cons.price.idx': 92.893, 'cons.conf.idx': -46.2, 'euribor3m':
            1.299, 'nr.employed': 5099.1}, {'age': 55, 'job': 'unknown', 'marital': 'married',
            'education': 'unknown', 'default': 'unknown', 'housing': 'yes', 'loan': 'no', 'contact':
            'telephone', 'month': 'may', 'day_of_week': 'thu', 'duration': 285, 'campaign': 2,
            'pdays': 999, 'previous': 0, 'poutcome': 'nonexistent', 'emp.var.rate': 1.1,
            'cons.price.idx': 93.994, 'cons.conf.idx': -36.4, 'euribor3m': 4.86, 'nr.employed':
            5191.0}]}, 'GlobalParameters': {'method': 'predict'}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ServiceOutput | str]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: ServiceInput | Unset = UNSET,
) -> ServiceOutput | str | None:
    """Run web service's model and get the prediction output

    Args:
        body (ServiceInput | Unset):  Example: {'Inputs': {'data': [{'age': 57, 'job':
            'technician', 'marital': 'married', 'education': 'high.school', 'default': 'no',
            'housing': 'no', 'loan': 'yes', 'contact': 'cellular', 'month': 'may', 'day_of_week':
            'mon', 'duration': 371, 'campaign': 1, 'pdays': 999, 'previous': 1, 'poutcome': 'failure',
            'emp.var.rate': -1.8, 'cons.price.idx': 92.893, 'cons.conf.idx': -46.2, 'euribor3m':
            1.299, 'nr.employed': 5099.1}, {'age': 55, 'job': 'unknown', 'marital': 'married',
            'education': 'unknown', 'default': 'unknown', 'housing': 'yes', 'loan': 'no', 'contact':
            'telephone', 'month': 'may', 'day_of_week': 'thu', 'duration': 285, 'campaign': 2,
            'pdays': 999, 'previous': 0, 'poutcome': 'nonexistent', 'emp.var.rate': 1.1,
            'cons.price.idx': 93.994, 'cons.conf.idx': -36.4, 'euribor3m': 4.86, 'nr.employed':
            5191.0}]}, 'GlobalParameters': {'method': 'predict'}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ServiceOutput | str
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: ServiceInput | Unset = UNSET,
) -> Response[ServiceOutput | str]:
    """Run web service's model and get the prediction output

    Args:
        body (ServiceInput | Unset):  Example: {'Inputs': {'data': [{'age': 57, 'job':
            'technician', 'marital': 'married', 'education': 'high.school', 'default': 'no',
            'housing': 'no', 'loan': 'yes', 'contact': 'cellular', 'month': 'may', 'day_of_week':
            'mon', 'duration': 371, 'campaign': 1, 'pdays': 999, 'previous': 1, 'poutcome': 'failure',
            'emp.var.rate': -1.8, 'cons.price.idx': 92.893, 'cons.conf.idx': -46.2, 'euribor3m':
            1.299, 'nr.employed': 5099.1}, {'age': 55, 'job': 'unknown', 'marital': 'married',
            'education': 'unknown', 'default': 'unknown', 'housing': 'yes', 'loan': 'no', 'contact':
            'telephone', 'month': 'may', 'day_of_week': 'thu', 'duration': 285, 'campaign': 2,
            'pdays': 999, 'previous': 0, 'poutcome': 'nonexistent', 'emp.var.rate': 1.1,
            'cons.price.idx': 93.994, 'cons.conf.idx': -36.4, 'euribor3m': 4.86, 'nr.employed':
            5191.0}]}, 'GlobalParameters': {'method': 'predict'}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ServiceOutput | str]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: ServiceInput | Unset = UNSET,
) -> ServiceOutput | str | None:
    """Run web service's model and get the prediction output

    Args:
        body (ServiceInput | Unset):  Example: {'Inputs': {'data': [{'age': 57, 'job':
            'technician', 'marital': 'married', 'education': 'high.school', 'default': 'no',
            'housing': 'no', 'loan': 'yes', 'contact': 'cellular', 'month': 'may', 'day_of_week':
            'mon', 'duration': 371, 'campaign': 1, 'pdays': 999, 'previous': 1, 'poutcome': 'failure',
            'emp.var.rate': -1.8, 'cons.price.idx': 92.893, 'cons.conf.idx': -46.2, 'euribor3m':
            1.299, 'nr.employed': 5099.1}, {'age': 55, 'job': 'unknown', 'marital': 'married',
            'education': 'unknown', 'default': 'unknown', 'housing': 'yes', 'loan': 'no', 'contact':
            'telephone', 'month': 'may', 'day_of_week': 'thu', 'duration': 285, 'campaign': 2,
            'pdays': 999, 'previous': 0, 'poutcome': 'nonexistent', 'emp.var.rate': 1.1,
            'cons.price.idx': 93.994, 'cons.conf.idx': -36.4, 'euribor3m': 4.86, 'nr.employed':
            5191.0}]}, 'GlobalParameters': {'method': 'predict'}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ServiceOutput | str
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed


# Added by codegen/templates (the rest of this template is openapi-python-client 0.29.1's own): public names for
# what ``sync_detailed`` / ``asyncio_detailed`` do before and after sending. The project's client core builds its
# request from ``request_kwargs`` and sends it with its own httpx client (auth, request ids, deadline, retries),
# so these signatures are what mypy checks its typed calls against.
request_kwargs = _get_kwargs
parse_response = _parse_response
