"""A whole interview in a real Chromium (Debian's /usr/bin/chromium driven by Playwright)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harken.conversations.simulator import Fact, Profile, SimulatedRespondent
from harken.core.settings import Settings
from tests.agent.conftest import make_campaign
from tests.helpers import ServerProcess, Tenant, free_port

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium"),
]

PROFILE = Profile(
    name="Alex Example0",
    role="team lead",
    department="Operations",
    facts=[
        Fact("f1", "process", "We plan the week in a Monday planning meeting", "monday huddle", "weekly planning"),
        Fact("f2", "pain", "Urgent requests disrupt the plan every day", "drop everything", "plan disrupt"),
        Fact("f3", "pain", "Shift notes get lost at handover", "lost at handover", "handover shift notes"),
    ],
)


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Any:
    port = free_port()
    env = {
        "HARKEN_DATABASE_URL": settings.resolved_database_url,
        "HARKEN_DATA_DIR": str(tmp_path / "server-data"),
        "HARKEN_BASE_URL": f"http://127.0.0.1:{port}",
        "HARKEN_LLM_BASE_URL": "",
        "HARKEN_SMTP_HOST": "",
    }
    proc = ServerProcess(["serve", "--port", str(port), "--no-worker"], env, port=port)
    proc.start(tmp_path / "server.log").wait_ready()
    yield proc
    proc.stop()


async def test_whole_interview_in_chromium_on_a_phone(app: Any, tenant: Tenant, server: ServerProcess) -> None:
    from playwright.async_api import async_playwright

    hostile_name = "Ops study <b>2026</b>"
    setup = await make_campaign(
        app.state.db,
        tenant.workspace_id,
        name=hostile_name,
        welcome_screen="Welcome! This chat takes about 20 minutes. Answer in your own words.",
        closing_message="Thank you, that's everything. You can close this page.",
    )
    token = setup.tokens[0]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            context = await browser.new_context(
                viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
            )
            page = await context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            await page.goto(f"{server.url}/i/{token}")

            # Escaped name, welcome screen first, chat hidden until Start.
            assert await page.locator("#title").text_content() == hostile_name
            assert await page.locator("#title b").count() == 0
            assert await page.locator("#welcome").is_visible()
            assert not await page.locator("#composer").is_visible()
            await page.screenshot(path=str(ARTIFACTS / "respondent-welcome.png"))
            await page.click("#start")
            assert await page.locator("#composer").is_visible()
            assert not await page.locator("#welcome").is_visible()

            sim = SimulatedRespondent(PROFILE)
            agent_messages = page.locator("#messages li.agent p")
            first_answer = True
            for _ in range(80):
                if await page.locator("#closing").is_visible():
                    break
                count = await agent_messages.count()
                question = await agent_messages.nth(count - 1).text_content() or ""
                answer = sim.answer(question)
                if first_answer:
                    answer = f"{answer} <script>alert(1)</script>"
                    first_answer = False
                await page.fill("#answer", answer)
                await page.press("#answer", "Enter")
                await page.wait_for_function(
                    "([n]) => document.querySelectorAll('#messages li.agent').length > n"
                    " || !document.getElementById('closing').hidden",
                    arg=[count],
                )
                progress = int(await page.locator("#progress").get_attribute("value") or 0)
                assert 0 <= progress <= 100
                if sim.turn == 3:
                    await page.screenshot(path=str(ARTIFACTS / "respondent-chat.png"))
            assert await page.locator("#closing").is_visible()
            assert "that's everything" in (await page.locator("#closing-text").text_content() or "")
            assert not await page.locator("#composer").is_visible()
            assert await page.locator("#progress").get_attribute("value") == "100"
            # The hostile answer is shown as text, not run or parsed.
            participant = await page.locator("#messages li.participant p").first.text_content()
            assert participant and participant.endswith("<script>alert(1)</script>")
            assert await page.locator("#messages script").count() == 0
            # Phone-sized: nothing wider than the screen.
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390
            await page.screenshot(path=str(ARTIFACTS / "respondent-interview.png"), full_page=True)
            await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            await page.screenshot(path=str(ARTIFACTS / "respondent-closing.png"))
            # Reloading a completed interview shows the closing message, no composer.
            await page.reload()
            assert await page.locator("#closing").is_visible()
            assert not await page.locator("#composer").is_visible()
        finally:
            await browser.close()
    assert not problems, problems
