"""`/openapi.json` documents every status, and a bounded schemathesis pass over the whole API (with a
valid key, in-process through ASGI) finds no server error and no undocumented status."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from harken.core.auth import AnyAuth
from harken.core.db import Database
from harken.core.settings import Settings
from tests.helpers import Tenant, create_tenant, wipe_database

MAX_EXAMPLES = 8


async def test_every_operation_documents_the_platform_statuses(client, tenant):
    schema = (await client.get("/openapi.json")).json()
    assert "ErrorBody" in schema["components"]["schemas"]
    assert schema["components"]["securitySchemes"]["ApiKeyHeader"]["name"] == "X-API-Key"
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert {"400", "500", "503"} <= codes, (method, path)
            if path.startswith("/v1") and not path.startswith("/v1/respond/"):
                assert operation.get("security"), (method, path)  # authenticated, and says so
            if operation.get("security"):
                assert {"401", "403", "429"} <= codes, (method, path, codes)
            if "{" in path:
                assert "404" in codes, (method, path)
            if method in {"post", "put", "patch"}:
                assert {"413", "415", "422"} <= codes, (method, path)
            if method == "post":
                assert "409" in codes
                assert any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))


async def test_routes_added_later_are_documented_too(app, client):
    first = (await client.get("/openapi.json")).json()
    assert "/v1/test/late" not in first["paths"]

    @app.post("/v1/test/late/{thing_id}")
    async def late(thing_id: str, auth: AnyAuth) -> dict[str, str]:
        return {"id": thing_id}

    second = (await client.get("/openapi.json")).json()
    codes = set(second["paths"]["/v1/test/late/{thing_id}"]["post"]["responses"])
    assert {"400", "401", "403", "404", "409", "413", "415", "422", "429", "500", "503"} <= codes


# --- schemathesis -----------------------------------------------------------------------------
# Schemathesis drives the ASGI app (and its lifespan) on an event loop of its own, so this app is
# built here rather than by the async fixtures, and its tenant is created on a short-lived loop.


@pytest.fixture(scope="module")
def fuzz_target(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Tenant]]:
    from harken.app import create_app

    async def make_tenant() -> Tenant:
        db = Database(database_url)
        try:
            return await create_tenant(db, name="Fuzz")
        finally:
            await db.dispose()

    tenant = asyncio.run(make_tenant())
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    app_settings = Settings(
        database_url=database_url,
        data_dir=data_dir,
        run_worker_in_process=False,
        rate_limit="1000000/minute",
        _env_file=None,
    )
    app = create_app(app_settings, run_worker=False)
    yield app, tenant
    shutdown_lifespans()
    wipe_database(database_url)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_finds_no_server_error_and_no_undocumented_status(fuzz_target: Any, mode: GenerationMode) -> None:
    """Every operation, positive and negative data, a few examples each (bounded so the suite stays
    fast). Operations are enumerated at run time, so routes added by any domain are covered."""
    app, tenant = fuzz_target
    api = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(
                headers={"X-API-Key": tenant.key},
                checks=[not_a_server_error, status_code_conformance, content_type_conformance],
            )

        try:
            run()
        except Unsatisfiable:  # nothing negative to generate (an operation without parameters)
            continue
        except Exception as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.label}: {exc}"[:3000])
    assert operations >= 5
    assert not failures, "\n\n".join(failures)
