from __future__ import annotations

from fastapi import APIRouter, Query, Response, status

from harken.core.auth import AdminAuth, AnyAuth
from harken.core.openapi import responses
from harken.core.session import DbSession
from harken.workspaces import service
from harken.workspaces.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, CurrentApiKeyOut, WorkspaceOut

router = APIRouter(prefix="/v1", tags=["workspaces"])


@router.get("/api-keys/current", response_model=CurrentApiKeyOut, responses=responses())
async def current_api_key(auth: AnyAuth) -> CurrentApiKeyOut:
    """The key this request authenticated with (any scope)."""
    # Every field shown here is immutable for a key, so the authenticated principal has them all.
    return CurrentApiKeyOut(
        id=auth.api_key_id,
        name=auth.key_name,
        workspace_id=auth.workspace_id,
        scopes=sorted(auth.scopes),
        key_prefix=auth.key_prefix,
        created_at=auth.created_at,
        expires_at=auth.expires_at,
    )


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED, responses=responses(404))
async def create_api_key(body: ApiKeyCreate, auth: AdminAuth, session: DbSession) -> ApiKeyCreated:
    """Create an API key in the caller's workspace. The full `key` is returned only here."""
    auth.check_workspace(body.workspace_id)
    key, raw = await service.create_api_key(
        session,
        auth.workspace_id,
        name=body.name,
        scopes=body.scopes,
        expires_in_days=body.expires_in_days,
        user_id=auth.user_id,
    )
    return ApiKeyCreated.model_validate({**ApiKeyOut.model_validate(key).model_dump(), "key": raw})


@router.get("/api-keys", response_model=list[ApiKeyOut], responses=responses())
async def list_api_keys(
    auth: AdminAuth,
    session: DbSession,
    workspace_id: str | None = Query(default=None),
    limit: int = Query(default=100, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
) -> list[ApiKeyOut]:
    """List the workspace's keys, oldest first (prefix and metadata, never the secret)."""
    auth.check_workspace(workspace_id)
    keys = await service.list_api_keys(session, auth.workspace_id, limit=limit, offset=offset)
    return [ApiKeyOut.model_validate(k) for k in keys]


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404))
async def revoke_api_key(key_id: str, auth: AdminAuth, session: DbSession) -> Response:
    """Revoke a key; it stops working immediately."""
    await service.revoke_api_key(session, auth.workspace_id, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/workspaces", response_model=list[WorkspaceOut], responses=responses())
async def list_workspaces(auth: AnyAuth, session: DbSession) -> list[WorkspaceOut]:
    """The workspaces this key can reach: its own."""
    return [WorkspaceOut.model_validate(await service.get_workspace(session, auth.workspace_id))]


@router.get("/workspaces/{workspace_id}", response_model=WorkspaceOut, responses=responses(404))
async def get_workspace(workspace_id: str, auth: AnyAuth, session: DbSession) -> WorkspaceOut:
    """One workspace; another workspace's id is reported as not found."""
    if workspace_id != auth.workspace_id:
        raise service.NotFound("Workspace not found")
    return WorkspaceOut.model_validate(await service.get_workspace(session, workspace_id))
