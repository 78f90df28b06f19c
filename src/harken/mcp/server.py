"""Harken's MCP server: tools for AI agents over campaigns, synthesis, queries and surveys.

Run with `harken mcp` (stdio). It needs an API key with the `mcp` scope (or `*`); every tool call
is scoped to that key's workspace.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from harken import __version__
from harken.mcp.client import ApiError, HarkenApi

INSTRUCTIONS = (
    "Harken holds interview campaigns (called interviews), their conversations, and the synthesis "
    "built from them: a cartography of processes, a roadmap of opportunities and personas. "
    "Start with list_campaigns, then read synthesis outputs or ask query_knowledge questions. "
    "Survey tools read programmed surveys and export them."
)


def build_server(api: HarkenApi) -> MCPServer:
    server = MCPServer("harken", instructions=INSTRUCTIONS, version=__version__)

    async def call(coro: Any) -> Any:
        try:
            return await coro
        except ApiError as exc:
            raise ToolError(f"{exc.code or 'error'} ({exc.status}): {exc.detail}") from exc

    async def workspace() -> str:
        if api.workspace_id is None:
            await call(api.whoami())
        assert api.workspace_id is not None
        return api.workspace_id

    @server.tool()
    async def list_campaigns(status: str | None = None) -> list[dict[str, Any]]:
        """List interview campaigns of the workspace, optionally by status (draft, active, paused, completed)."""
        return await call(api.get("/v1/interviews", workspace_id=await workspace(), status=status))

    @server.tool()
    async def get_campaign(interview_id: str) -> dict[str, Any]:
        """A campaign with its topics (question sets) and contacts."""
        return await call(api.get(f"/v1/interviews/{interview_id}/detail"))

    @server.tool()
    async def campaign_progress(interview_id: str) -> dict[str, Any]:
        """How many conversations are scheduled, in progress and completed."""
        return await call(api.get(f"/v1/interviews/{interview_id}/progress"))

    @server.tool()
    async def list_conversations(
        interview_id: str, search: str | None = None, department: str | None = None, limit: int = 50
    ) -> dict[str, Any]:
        """Conversations of a campaign; `search` matches names, summaries and transcript text."""
        return await call(
            api.get(f"/v1/interviews/{interview_id}/conversations", search=search, department=department, limit=limit)
        )

    @server.tool()
    async def get_conversation(interview_id: str, conversation_id: str) -> dict[str, Any]:
        """One conversation with its transcript, summary and extracted pain points."""
        return await call(api.get(f"/v1/interviews/{interview_id}/conversations/{conversation_id}"))

    @server.tool()
    async def get_synthesis(interview_id: str) -> dict[str, Any]:
        """Synthesis status, key themes, summary and recommendations of a campaign."""
        return await call(api.get(f"/v1/interviews/{interview_id}/synthesis"))

    @server.tool()
    async def get_cartography(interview_id: str) -> dict[str, Any]:
        """The process map: processes, categories, tools, consensus and connections, with evidence."""
        return await call(api.get(f"/v1/interviews/{interview_id}/cartography"))

    @server.tool()
    async def get_roadmap(interview_id: str) -> dict[str, Any]:
        """Opportunities by horizon (now, next, later) with impact, effort and evidence."""
        return await call(api.get(f"/v1/interviews/{interview_id}/roadmap"))

    @server.tool()
    async def get_personas(interview_id: str, department: str | None = None) -> dict[str, Any]:
        """Personas per contact and rolled up per department."""
        return await call(api.get(f"/v1/interviews/{interview_id}/personas", department=department))

    @server.tool()
    async def query_knowledge(
        interview_id: str, query: str, anonymize: bool = False, top_k: int = 12
    ) -> dict[str, Any]:
        """Ask a question of a campaign's knowledge graph; answers carry patterns and citations."""
        body = {"query": query, "anonymize": anonymize, "top_k": top_k}
        return await call(api.post(f"/v1/interviews/{interview_id}/graph/query", body))

    @server.tool()
    async def export_report(interview_id: str) -> str:
        """The full Markdown report: summary, cartography, roadmap and personas with quotes."""
        return await call(api.get_text(f"/v1/interviews/{interview_id}/export/report"))

    @server.tool()
    async def export_transcript(interview_id: str, conversation_id: str) -> str:
        """One transcript as Markdown."""
        return await call(api.get_text(f"/v1/interviews/{interview_id}/export/transcript/{conversation_id}"))

    @server.tool()
    async def list_surveys(limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Surveys of the workspace."""
        return await call(api.get("/v1/surveys", limit=limit, offset=offset))

    @server.tool()
    async def get_survey(survey: str) -> dict[str, Any]:
        """A survey (by id or slug) with its pages, blocks, navigation rules and variables."""
        return await call(api.get(f"/v1/surveys/{survey}"))

    @server.tool()
    async def export_survey_questions(survey: str) -> dict[str, Any]:
        """The platform-neutral question list of a programmed survey."""
        return await call(api.get(f"/v1/surveys/{survey}/export", format="questions"))

    return server
