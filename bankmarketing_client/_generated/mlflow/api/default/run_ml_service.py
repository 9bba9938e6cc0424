from http import HTTPStatus
from typing import Any, cast

import httpx

from ...client import AuthenticatedClient, Client
from ...models.service_input import ServiceInput
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


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> list[Any] | str:
    if response.status_code == 200:
        response_200 = cast(list[Any], response.json())

        return response_200

    response_default = response.text
    return response_default


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[list[Any] | str]:
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
) -> Response[list[Any] | str]:
    """Run web service's model and get the prediction output

    Args:
        body (ServiceInput | Unset):  Example: {'input_data': {'columns': ['age', 'job',
            'marital', 'education', 'default', 'housing', 'loan', 'contact', 'month', 'day_of_week',
            'duration', 'campaign', 'pdays', 'previous', 'poutcome', 'emp.var.rate', 'cons.price.idx',
            'cons.conf.idx', 'euribor3m', 'nr.employed'], 'index': [], 'data': []}, 'params': {}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[list[Any] | str]
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
) -> list[Any] | str | None:
    """Run web service's model and get the prediction output

    Args:
        body (ServiceInput | Unset):  Example: {'input_data': {'columns': ['age', 'job',
            'marital', 'education', 'default', 'housing', 'loan', 'contact', 'month', 'day_of_week',
            'duration', 'campaign', 'pdays', 'previous', 'poutcome', 'emp.var.rate', 'cons.price.idx',
            'cons.conf.idx', 'euribor3m', 'nr.employed'], 'index': [], 'data': []}, 'params': {}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        list[Any] | str
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: ServiceInput | Unset = UNSET,
) -> Response[list[Any] | str]:
    """Run web service's model and get the prediction output

    Args:
        body (ServiceInput | Unset):  Example: {'input_data': {'columns': ['age', 'job',
            'marital', 'education', 'default', 'housing', 'loan', 'contact', 'month', 'day_of_week',
            'duration', 'campaign', 'pdays', 'previous', 'poutcome', 'emp.var.rate', 'cons.price.idx',
            'cons.conf.idx', 'euribor3m', 'nr.employed'], 'index': [], 'data': []}, 'params': {}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[list[Any] | str]
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
) -> list[Any] | str | None:
    """Run web service's model and get the prediction output

    Args:
        body (ServiceInput | Unset):  Example: {'input_data': {'columns': ['age', 'job',
            'marital', 'education', 'default', 'housing', 'loan', 'contact', 'month', 'day_of_week',
            'duration', 'campaign', 'pdays', 'previous', 'poutcome', 'emp.var.rate', 'cons.price.idx',
            'cons.conf.idx', 'euribor3m', 'nr.employed'], 'index': [], 'data': []}, 'params': {}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        list[Any] | str
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
