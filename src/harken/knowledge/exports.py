"""Markdown and ZIP exports: transcripts, the campaign summary and the full report."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from harken.campaigns.models import Campaign, Contact
from harken.conversations.models import Conversation
from harken.core.db import isoformat
from harken.core.errors import NotFound
from harken.knowledge.models import SynthesisResult
from harken.knowledge.service import completed_result


async def get_conversation(
    session: AsyncSession, campaign: Campaign, conversation_id: str
) -> tuple[Conversation, Contact]:
    row = (
        await session.execute(
            select(Conversation, Contact)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(
                Conversation.id == conversation_id,
                Conversation.interview_id == campaign.id,
                Conversation.workspace_id == campaign.workspace_id,
            )
        )
    ).one_or_none()
    if row is None:
        raise NotFound("Conversation not found")
    return row[0], row[1]


def _clock(at: Any, start: datetime | None) -> str:
    if not at:
        return ""
    try:
        moment = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    except ValueError:
        return str(at)
    if start is not None:
        secs = max(0, int((moment - start).total_seconds()))
        return f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"
    return moment.strftime("%H:%M:%S")


def transcript_json(conv: Conversation, contact: Contact) -> dict[str, Any]:
    return {
        "conversation_id": conv.id,
        "interview_id": conv.interview_id,
        "contact": {
            "id": contact.id,
            "name": contact.name,
            "email": contact.email,
            "job_title": contact.job_title,
            "department": contact.department,
            "seniority_level": contact.seniority_level,
        },
        "status": conv.status,
        "started_at": isoformat(conv.started_at),
        "ended_at": isoformat(conv.ended_at),
        "duration_minutes": conv.duration_minutes,
        "summary": conv.summary,
        "transcript": list(conv.transcript or []),
    }


def transcript_markdown(conv: Conversation, contact: Contact, campaign: Campaign) -> str:
    lines = [f"# Interview with {contact.name}", "", f"Campaign: {campaign.name}", ""]
    meta = [
        ("Job title", contact.job_title),
        ("Department", contact.department),
        ("Seniority level", contact.seniority_level),
        ("Email", contact.email),
        ("Started", isoformat(conv.started_at)),
        ("Ended", isoformat(conv.ended_at)),
        ("Duration", f"{conv.duration_minutes} min" if conv.duration_minutes else None),
        ("Status", conv.status),
        ("Conversation id", conv.id),
    ]
    lines += [f"- **{k}:** {v}" for k, v in meta if v not in (None, "")]
    if conv.summary:
        lines += ["", "## Summary", "", conv.summary]
    lines += ["", "## Transcript", ""]
    for turn in conv.transcript or []:
        who = contact.name if turn.get("speaker") == "participant" else "Interviewer"
        stamp = _clock(turn.get("at"), conv.started_at)
        prefix = f"`{stamp}` " if stamp else ""
        lines += [f"{prefix}**{who}:** {turn.get('text', '')}", ""]
    return "\n".join(lines).rstrip() + "\n"


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()
    return slug or "participant"


async def transcripts_zip(session: AsyncSession, campaign: Campaign) -> bytes:
    rows = (
        await session.execute(
            select(Conversation, Contact)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(Conversation.interview_id == campaign.id, Conversation.status == "completed")
            .order_by(Contact.name, Conversation.id)
        )
    ).all()
    buf = io.BytesIO()
    used: dict[str, int] = {}
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for conv, contact in rows:
            base = _slug(contact.name)
            used[base] = used.get(base, 0) + 1
            name = f"{base}.md" if used[base] == 1 else f"{base}-{used[base]}.md"
            zf.writestr(name, transcript_markdown(conv, contact, campaign))
    return buf.getvalue()


def _quote(ev: dict[str, Any], names: dict[str, str]) -> str:
    who = names.get(ev.get("contact_id", ""), "a participant")
    return f"> \u201c{ev.get('quote', '')}\u201d \u2014 {who}"


async def _names(session: AsyncSession, campaign: Campaign) -> dict[str, str]:
    rows = (await session.execute(select(Contact.id, Contact.name).where(Contact.interview_id == campaign.id))).all()
    return {r[0]: r[1] for r in rows}


async def summary_markdown(session: AsyncSession, campaign: Campaign) -> str:
    result = await completed_result(session, campaign)
    return _summary_section(campaign, result, await _names(session, campaign), level=1)


def _summary_section(campaign: Campaign, result: SynthesisResult, names: dict[str, str], level: int) -> str:
    h = "#" * level
    lines = [
        f"{h} {campaign.name}: research summary",
        "",
        f"Generated {isoformat(result.generated_at)} from {result.conversation_count} conversation(s).",
        "",
    ]
    if result.summary:
        lines += [result.summary, ""]
    if result.key_themes:
        lines += [f"{h}# Key themes", ""]
        for t in result.key_themes:
            lines.append(f"- **{t['name']}**: {t['contact_count']} participant(s), {t['mention_count']} mention(s).")
        lines.append("")
    if result.recommendations:
        lines += [f"{h}# Recommendations", ""]
        lines += [f"{i}. {r}" for i, r in enumerate(result.recommendations, 1)]
        lines.append("")
    return "\n".join(lines)


async def report_markdown(session: AsyncSession, campaign: Campaign) -> str:
    result = await completed_result(session, campaign)
    names = await _names(session, campaign)
    out = [_summary_section(campaign, result, names, level=1)]
    carto = result.cartography or {}
    procs = {p["id"]: p for p in carto.get("processes", [])}
    out += [
        "## Process map",
        "",
        "How the work gets done today, as participants described it. *Consensus* means at least 80% "
        "of participants raised it, *edge case* only one.",
        "",
    ]
    for cat in carto.get("categories", []):
        out += [f"### {cat['name']}", ""]
        for pid in cat.get("process_ids", []):
            p = procs.get(pid)
            if not p:
                continue
            who = ", ".join(names.get(c, c) for c in p["contact_ids"])
            tools = f" Tools: {', '.join(p['tools'])}." if p.get("tools") else ""
            out += [
                f"#### {p['name']} ({p['consensus'].replace('_', ' ')})",
                "",
                f"Raised by {p['contact_count']} participant(s) ({who}); {p['mention_count']} mention(s); "
                f"{p['pain_point_count']} pain point(s).{tools}",
                "",
            ]
            out += [_quote(ev, names) for ev in p.get("evidence", [])[:3]]
            out.append("")
    conns = carto.get("connections", [])
    if conns:
        out += ["### How processes connect", ""]
        for c in conns[:15]:
            a, b = procs.get(c["source"], {}).get("name"), procs.get(c["target"], {}).get("name")
            if a and b:
                out.append(f"- {a} \u2192 {b} ({c['kind'].replace('_', ' ')}, weight {c['weight']})")
        out.append("")
    out += ["## Roadmap", ""]
    for phase in (result.roadmap or {}).get("phases", []):
        out += [f"### {phase['horizon'].capitalize()}", ""]
        if not phase["opportunities"]:
            out += ["Nothing placed here.", ""]
        for o in phase["opportunities"]:
            out += [
                f"#### {o['title']}",
                "",
                f"Impact {o['impact']}/5, effort {o['effort']}/5, score {o['score']}; "
                f"supported by {o['supporting_contacts']} participant(s).",
                "",
                f"**Problem.** {o['problem']}",
                "",
                f"**Proposed solution.** {o['proposed_solution']}",
                "",
            ]
            out += [_quote(ev, names) for ev in o.get("evidence", [])[:3]]
            out.append("")
    personas = result.personas or {}
    out += ["## Personas", ""]
    for p in personas.get("personas", []):
        role = ", ".join(x for x in (p.get("job_title"), p.get("department")) if x)
        out += [
            f"### {p['name']}" + (f" ({role})" if role else ""),
            "",
            f"Digital maturity {p['digital_maturity_score']}/5. Tools: {', '.join(p['tools']) or 'none named'}.",
            "",
        ]
        if p.get("summary"):
            out += [p["summary"], ""]
        for field, title in (("motivations", "Motivations"), ("frustrations", "Frustrations")):
            items = p.get(field) or []
            if items:
                out += [f"**{title}**", ""]
                for it in items[:4]:
                    sev = f" ({it['severity']})" if it.get("severity") else ""
                    quote = it["evidence"][0]["quote"] if it.get("evidence") else it["text"]
                    out.append(f"- \u201c{quote}\u201d{sev}")
                out.append("")
    depts = personas.get("departments", [])
    if depts:
        out += ["### By department", ""]
        for d in depts:
            out.append(f"- **{d['department']}**: {d['summary']}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
