"""The respondent page `/i/{token}` over HTTP (HTML, escaping, the no-JavaScript fallback)."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from tests.agent.conftest import make_campaign
from tests.helpers import Tenant

HOSTILE = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'


async def test_page_escapes_everything(app: Any, client: AsyncClient, tenant: Tenant) -> None:
    setup = await make_campaign(
        app.state.db,
        tenant.workspace_id,
        name=f"Study {HOSTILE}",
        welcome_screen=f"Hello {HOSTILE}\n\nSecond paragraph & more",
        closing_message=f"Bye {HOSTILE}",
        goal=f"Goal {HOSTILE}",
    )
    token = setup.tokens[0]
    await client.post(f"/v1/respond/{token}/messages", json={"text": f"My answer {HOSTILE} with <b>bold</b>"})
    response = await client.get(f"/i/{token}")
    assert response.status_code == 200
    html = response.text
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    # The only script is our own file; the policy forbids inline script and foreign origins.
    assert html.count("<script") == 1 and '<script src="/static/respond.js" defer></script>' in html
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_page_shows_welcome_chat_progress_and_is_phone_ready(
    app: Any, client: AsyncClient, tenant: Tenant
) -> None:
    setup = await make_campaign(
        app.state.db, tenant.workspace_id, welcome_screen="Welcome to our study.", default_language="de"
    )
    response = await client.get(f"/i/{setup.tokens[0]}")
    html = response.text
    assert response.headers["content-type"].startswith("text/html")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert '<html lang="de">' in html and "Interview starten" in html
    assert "Welcome to our study." in html
    assert '<progress id="progress" max="100" value="0">' in html
    assert 'class="msg agent"' in html and "Hallo Alex" in html  # the opening turn, in German


async def test_unknown_token_page_is_a_friendly_404(client: AsyncClient) -> None:
    response = await client.get("/i/not-a-token")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "not valid" in response.text


async def test_form_fallback_without_javascript(app: Any, client: AsyncClient, tenant: Tenant) -> None:
    setup = await make_campaign(app.state.db, tenant.workspace_id, closing_message="All done, thanks.")
    token = setup.tokens[0]
    await client.get(f"/i/{token}")
    response = await client.post(f"/i/{token}", data={"text": "I plan the work for two crews."})
    assert response.status_code == 303 and response.headers["location"] == f"/i/{token}"
    page = (await client.get(f"/i/{token}")).text
    assert "I plan the work for two crews." in page
    response = await client.post(f"/i/{token}/end")
    assert response.status_code == 303
    page = (await client.get(f"/i/{token}")).text
    assert '<section id="closing" class="closing">' in page and "All done, thanks." in page
    assert '<form id="composer" class="composer" method="post" action="/i/' in page and "hidden>" in page
    # Posting to a completed interview just shows the page again.
    response = await client.post(f"/i/{token}", data={"text": "late answer"})
    assert response.status_code == 303


async def test_static_files_and_openapi(client: AsyncClient) -> None:
    js = await client.get("/static/respond.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in js.text.replace("never innerHTML", "")
    css = await client.get("/static/respond.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert (await client.get("/static/../app.py")).status_code == 404
    assert (await client.get("/static/other.js")).status_code == 404
    spec = (await client.get("/openapi.json")).json()
    assert "/v1/respond/{token}/messages" in spec["paths"]
    assert "409" in spec["paths"]["/v1/respond/{token}/messages"]["post"]["responses"]
    assert not any(p.startswith("/i/") for p in spec["paths"])
