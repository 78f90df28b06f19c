"""HTTP routes of the webhooks domain (contract §5.2), scope `webhooks`."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request, Response, status

from harken.core.auth import WebhooksAuth
from harken.core.openapi import responses
from harken.core.session import DbSession
from harken.webhooks import service
from harken.webhooks.catalog import AnyEventType
from harken.webhooks.schemas import (
    AttemptOut,
    DeliveryDetailOut,
    DeliveryOut,
    DeliveryStatusName,
    EndpointCreate,
    EndpointCreated,
    EndpointOut,
    EndpointUpdate,
    EnqueuedOut,
    ReplayRequest,
    RotateOut,
    RotateRequest,
    TestRequest,
)

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])

WorkspaceQuery = Query(default=None, description="Optional; must be the API key's workspace.")


@router.post("", response_model=EndpointCreated, status_code=status.HTTP_201_CREATED, responses=responses())
async def create_endpoint(
    body: EndpointCreate, request: Request, auth: WebhooksAuth, session: DbSession
) -> EndpointCreated:
    """Register an endpoint. The signing `secret` is returned only in this response (and on rotation).
    `events` empty = every event. With `HARKEN_WEBHOOK_HTTPS_ONLY`, plain http URLs are rejected (422)."""
    auth.check_workspace(body.workspace_id)
    endpoint, secret = await service.create_endpoint(
        session, auth.workspace_id, body, request.app.state.settings, created_by=auth.user_id or auth.api_key_id
    )
    return EndpointCreated.model_validate({**EndpointOut.model_validate(endpoint).model_dump(), "secret": secret})


@router.get("", response_model=list[EndpointOut], responses=responses())
async def list_endpoints(
    auth: WebhooksAuth, session: DbSession, workspace_id: str | None = WorkspaceQuery
) -> list[EndpointOut]:
    """The workspace's endpoints (never their secrets)."""
    auth.check_workspace(workspace_id)
    return [EndpointOut.model_validate(e) for e in await service.list_endpoints(session, auth.workspace_id)]


@router.get("/{endpoint_id}", response_model=EndpointOut, responses=responses(404))
async def get_endpoint(endpoint_id: str, auth: WebhooksAuth, session: DbSession) -> EndpointOut:
    """One endpoint."""
    return EndpointOut.model_validate(await service.get_endpoint(session, auth.workspace_id, endpoint_id))


@router.patch("/{endpoint_id}", response_model=EndpointOut, responses=responses(404))
async def update_endpoint(
    endpoint_id: str, body: EndpointUpdate, request: Request, auth: WebhooksAuth, session: DbSession
) -> EndpointOut:
    """Change an endpoint. `active: false` pauses deliveries; `active: true` also re-enables an
    endpoint that was disabled automatically (410 or sustained failure)."""
    endpoint = await service.update_endpoint(session, auth.workspace_id, endpoint_id, body, request.app.state.settings)
    return EndpointOut.model_validate(endpoint)


@router.delete("/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404))
async def delete_endpoint(endpoint_id: str, auth: WebhooksAuth, session: DbSession) -> Response:
    """Delete an endpoint with its delivery log; nothing more is sent to it."""
    await service.delete_endpoint(session, auth.workspace_id, endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{endpoint_id}/test", response_model=EnqueuedOut, responses=responses(404))
async def test_endpoint(
    endpoint_id: str, auth: WebhooksAuth, session: DbSession, body: TestRequest | None = None
) -> EnqueuedOut:
    """Send a real, signed delivery to this endpoint: `webhook.test`, or a synthetic payload of
    the named `event`."""
    count = await service.send_test(session, auth.workspace_id, endpoint_id, body.event if body else None)
    return EnqueuedOut(deliveries_enqueued=count)


@router.post("/{endpoint_id}/rotate-secret", response_model=RotateOut, responses=responses(404))
async def rotate_secret(
    endpoint_id: str, auth: WebhooksAuth, session: DbSession, body: RotateRequest | None = None
) -> RotateOut:
    """Issue a new secret. The previous one keeps signing (a second signature on every delivery)
    for `expire_previous_in_hours` (0 to 72, default 24)."""
    hours = body.expire_previous_in_hours if body else 24
    secret, expires = await service.rotate_secret(session, auth.workspace_id, endpoint_id, hours)
    return RotateOut(secret=secret, previous_secret_expires_at=expires)


@router.get("/{endpoint_id}/deliveries", response_model=list[DeliveryOut], responses=responses(404))
async def list_deliveries(
    endpoint_id: str,
    auth: WebhooksAuth,
    session: DbSession,
    limit: int = Query(default=50, ge=1, le=500),
    status_: DeliveryStatusName | None = Query(default=None, alias="status"),
    event_type: AnyEventType | None = Query(default=None),
    since: datetime | None = Query(default=None, description="Only deliveries created at or after this time."),
    workspace_id: str | None = WorkspaceQuery,
) -> list[DeliveryOut]:
    """The endpoint's deliveries, newest first."""
    auth.check_workspace(workspace_id)
    rows = await service.list_deliveries(
        session, auth.workspace_id, endpoint_id, limit=limit, status=status_, event_type=event_type, since=since
    )
    return [DeliveryOut.model_validate(d) for d in rows]


@router.get("/{endpoint_id}/deliveries/{delivery_id}", response_model=DeliveryDetailOut, responses=responses(404))
async def get_delivery(endpoint_id: str, delivery_id: str, auth: WebhooksAuth, session: DbSession) -> DeliveryDetailOut:
    """One delivery with every attempt (`attempt_log`: status, headers, first 4 KB of the body,
    duration, error) and the payload that is sent."""
    delivery, attempts, payload = await service.delivery_detail(session, auth.workspace_id, endpoint_id, delivery_id)
    return DeliveryDetailOut.model_validate(
        {
            **DeliveryOut.model_validate(delivery).model_dump(),
            "attempt_log": [AttemptOut.model_validate(a).model_dump() for a in attempts],
            "payload": payload,
        }
    )


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut, responses=responses(404, 409)
)
async def redeliver(endpoint_id: str, delivery_id: str, auth: WebhooksAuth, session: DbSession) -> DeliveryOut:
    """Queue the delivery again now (same delivery id, a fresh retry schedule)."""
    delivery = await service.redeliver(session, auth.workspace_id, endpoint_id, delivery_id)
    return DeliveryOut.model_validate(delivery)


@router.post("/{endpoint_id}/replay", response_model=EnqueuedOut, responses=responses(404, 409))
async def replay(endpoint_id: str, body: ReplayRequest, auth: WebhooksAuth, session: DbSession) -> EnqueuedOut:
    """Send again what this endpoint got (or missed) between `since` and `until` (default now);
    with `status: failed`, only deliveries that failed or were discarded."""
    count = await service.replay(session, auth.workspace_id, endpoint_id, body)
    return EnqueuedOut(deliveries_enqueued=count)
