from http import HTTPStatus
from typing import Any

import httpx

from ...client import AuthenticatedClient, Client
from ...models.get_swagger_spec_response_200 import GetSwaggerSpecResponse200
from ...models.get_swagger_spec_version import GetSwaggerSpecVersion
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    version: GetSwaggerSpecVersion | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_version: int | Unset = UNSET
    if not isinstance(version, Unset):
        json_version = version.value

    params["version"] = json_version

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/swagger.json",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> GetSwaggerSpecResponse200 | str:
    if response.status_code == 200:
        response_200 = GetSwaggerSpecResponse200.from_dict(response.json())

        return response_200

    response_default = response.text
    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[GetSwaggerSpecResponse200 | str]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    version: GetSwaggerSpecVersion | Unset = UNSET,
) -> Response[GetSwaggerSpecResponse200 | str]:
    """Get the Swagger specification.

    Args:
        version (GetSwaggerSpecVersion | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[GetSwaggerSpecResponse200 | str]
    """

    kwargs = _get_kwargs(
        version=version,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    version: GetSwaggerSpecVersion | Unset = UNSET,
) -> GetSwaggerSpecResponse200 | str | None:
    """Get the Swagger specification.

    Args:
        version (GetSwaggerSpecVersion | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        GetSwaggerSpecResponse200 | str
    """

    return sync_detailed(
        client=client,
        version=version,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    version: GetSwaggerSpecVersion | Unset = UNSET,
) -> Response[GetSwaggerSpecResponse200 | str]:
    """Get the Swagger specification.

    Args:
        version (GetSwaggerSpecVersion | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[GetSwaggerSpecResponse200 | str]
    """

    kwargs = _get_kwargs(
        version=version,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    version: GetSwaggerSpecVersion | Unset = UNSET,
) -> GetSwaggerSpecResponse200 | str | None:
    """Get the Swagger specification.

    Args:
        version (GetSwaggerSpecVersion | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        GetSwaggerSpecResponse200 | str
    """

    return (
        await asyncio_detailed(
            client=client,
            version=version,
        )
    ).parsed


# Added by codegen/templates (the rest of this template is openapi-python-client 0.29.1's own): public names for
# what ``sync_detailed`` / ``asyncio_detailed`` do before and after sending. The project's client core builds its
# request from ``request_kwargs`` and sends it with its own httpx client (auth, request ids, deadline, retries),
# so these signatures are what mypy checks its typed calls against.
request_kwargs = _get_kwargs
parse_response = _parse_response
