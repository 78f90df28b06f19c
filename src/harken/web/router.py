"""The respondent web page `/i/{token}`: server-rendered HTML, a little plain JS, no build step.

Without JavaScript the page still works: the form posts to `/i/{token}` and the server redirects
back (post/redirect/get). With JavaScript, answers go through the JSON channel `/v1/respond/...`.
These routes are HTML, not API, so they stay out of the OpenAPI document.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from harken.conversations import respondent_service as service
from harken.conversations.respondent_router import agent_for
from harken.core.errors import Conflict, NotFound
from harken.core.session import DatabaseDep
from harken.web.page import SECURITY_HEADERS, render_not_found, render_page

router = APIRouter(tags=["web"], include_in_schema=False)

STATIC_DIR = Path(__file__).parent / "static"
STATIC_TYPES = {"respond.js": "text/javascript; charset=utf-8", "respond.css": "text/css; charset=utf-8"}


def _html(body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)


@router.get("/i/{token}", response_class=HTMLResponse)
async def respondent_page(token: str, request: Request, db: DatabaseDep) -> Response:
    try:
        state = await service.get_state(db, token, agent_for(request))
    except NotFound:
        return _html(render_not_found(), 404)
    return _html(render_page(token, state))


@router.post("/i/{token}")
async def respondent_post(token: str, request: Request, db: DatabaseDep, text: str = Form("")) -> Response:
    """No-JavaScript fallback: post the answer, then show the page again."""
    try:
        await service.post_message(db, token, text[:10_000], agent_for(request))
    except NotFound:
        return _html(render_not_found(), 404)
    except Conflict:
        pass  # the page explains the state (completed, paused, closed)
    return RedirectResponse(f"/i/{token}", status_code=303, headers={"Referrer-Policy": "no-referrer"})


@router.post("/i/{token}/end")
async def respondent_end(token: str, request: Request, db: DatabaseDep) -> Response:
    try:
        await service.end(db, token, agent_for(request))
    except NotFound:
        return _html(render_not_found(), 404)
    except Conflict:
        pass
    return RedirectResponse(f"/i/{token}", status_code=303, headers={"Referrer-Policy": "no-referrer"})


@router.get("/static/{name}")
async def static_file(name: str) -> Response:
    media_type = STATIC_TYPES.get(name)
    if media_type is None:
        raise NotFound("Not found")
    content = (STATIC_DIR / name).read_bytes()
    return Response(
        content,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )
