"""Walk the whole route table: every `/v1` route authenticates, checks its scope, and hides other
workspaces' resources (contract §1). New routes from any domain are picked up automatically; path
parameters are filled generically. Public routes are listed explicitly below."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from harken.core.auth import SCOPES, route_auth
from harken.core.middleware import api_routes
from tests.helpers import add_key

# Public by design: liveness/readiness/metrics, the API docs, and the respondent channel (the
# booking token in the path is the credential) with its page assets under /static/.
PUBLIC_PATHS = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
PUBLIC_PREFIXES = ("/v1/respond/", "/i/", "/static/")


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def protected_operations(app: Any) -> list[tuple[str, str, Any]]:
    ops = []
    for route in api_routes(app):
        if is_public(route.path_format):
            continue
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                ops.append((method, route.path_format, route))
    return ops


_PARAM = re.compile(r"{(\w+)}")


def fill(route: Any, value: str) -> str:
    """The route's path with every parameter set (ints get a number, anything else `value`)."""

    def one(match: re.Match[str]) -> str:
        convertor = route.param_convertors.get(match.group(1))
        if type(convertor).__name__ == "IntegerConvertor":
            return "987654321"
        return value

    return _PARAM.sub(one, route.path_format)


async def test_every_route_outside_the_public_list_requires_a_key(app):
    unprotected = [
        f"{method} {path}" for method, path, route in protected_operations(app) if route_auth(route.dependant) is None
    ]
    assert unprotected == [], "routes without an auth dependency (add one, or list them as public)"


async def test_no_key_is_401_everywhere(app, client, tenant):
    for method, _, route in protected_operations(app):
        path = fill(route, str(uuid.uuid4()))
        response = await client.request(method, path)
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["code"] == "invalid_api_key"
        bad = await client.request(method, path, headers={"X-API-Key": "ont_live_" + "0" * 43})
        assert bad.status_code == 401, (method, path)


async def test_missing_scope_is_403_everywhere(app, client, tenant):
    keys: dict[str, str] = {}
    checked = 0
    for method, _, route in protected_operations(app):
        scope = route_auth(route.dependant).scope
        if scope is None:  # any valid key will do
            continue
        if scope not in keys:
            others = [s for s in SCOPES if s not in {scope, "*"}]
            keys[scope] = await add_key(app.state.db, tenant.workspace_id, others)
        path = fill(route, str(uuid.uuid4()))
        response = await client.request(method, path, headers={"X-API-Key": keys[scope]})
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "insufficient_scope"
        checked += 1
    assert checked >= 3  # at least the key-management routes today


async def test_foreign_and_unknown_ids_are_hidden(app, client, tenant, other_tenant):
    foreign_ids = [str(uuid.uuid4()), other_tenant.key_id, other_tenant.workspace_id]
    secret_bits = [other_tenant.key, other_tenant.key[:15], "Tenant B"]
    checked = 0
    for method, _, route in protected_operations(app):
        if not route.param_convertors:
            continue
        for foreign in foreign_ids:
            path = fill(route, foreign)
            response = await client.request(method, path, headers=tenant.headers)
            # 422: a body, query or typed path parameter failed validation, so the handler never ran.
            assert response.status_code in {404, 403, 422}, (method, path, response.status_code, response.text)
            body = response.json()
            if response.status_code == 404:
                assert body["code"] == "not_found"
            elif response.status_code == 403:
                assert body["code"] == "workspace_forbidden"
            else:
                assert isinstance(body["detail"], list)
            for bit in secret_bits:
                assert bit not in response.text
            checked += 1
    assert checked >= 6
    # Nothing happened to the other workspace.
    still = await client.get("/v1/api-keys/current", headers=other_tenant.headers)
    assert still.status_code == 200 and still.json()["id"] == other_tenant.key_id


async def test_workspace_id_naming_another_workspace_is_403(app, client, tenant, other_tenant):
    checked = 0
    for method, _, route in protected_operations(app):
        if route.param_convertors or not any(p.name == "workspace_id" for p in route.dependant.query_params):
            continue
        response = await client.request(
            method, route.path_format, headers=tenant.headers, params={"workspace_id": other_tenant.workspace_id}
        )
        assert response.status_code in {403, 422}, (method, route.path_format, response.text)
        if response.status_code == 403:
            assert response.json()["code"] == "workspace_forbidden"
            checked += 1
    assert checked >= 1


@pytest.mark.parametrize("value", ["99999999999999999999999999", "-1", "1e9", "NaN"])
async def test_huge_or_bad_pagination_is_422(app, client, tenant, value):
    checked = 0
    for method, _, route in protected_operations(app):
        names = {p.name for p in route.dependant.query_params}
        for name in {"limit", "offset"} & names:
            if method != "GET":
                continue
            response = await client.get(fill(route, str(uuid.uuid4())), headers=tenant.headers, params={name: value})
            # With made-up path ids a route may answer 404 before it reads the value; never a 500.
            allowed = {422, 404} if route.param_convertors else {422}
            assert response.status_code in allowed, (route.path_format, name, value, response.text)
            checked += 1
    assert checked >= 1
