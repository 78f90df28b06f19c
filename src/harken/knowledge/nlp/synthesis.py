"""Campaign synthesis: cartography, roadmap, personas, themes, summary (contract §3.6).

Input: the campaign (goal, topics), its contacts, and one `ConversationAnalysis` plus sentence
embeddings per completed conversation. Output: plain dicts in the contract's shapes. Every item
carries evidence: verbatim participant sentences with their conversation, contact and chunk.
Deterministic: the same input gives the same output (ids derive from stable keys).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from harken.knowledge.nlp.extract import ConversationAnalysis, Sentence, pick_windows
from harken.knowledge.nlp.processes import ProcessCluster, discover_processes, seeds_from_topics

MIN_SENTENCES = 1


@dataclass
class ContactInfo:
    id: str
    name: str
    job_title: str | None = None
    department: str | None = None
    seniority_level: int | None = None


@dataclass
class ConversationInput:
    conversation_id: str
    contact: ContactInfo
    analysis: ConversationAnalysis
    embeddings: np.ndarray  # one row per analysis sentence
    turns: list[dict[str, Any]]


@dataclass
class GlobalSentence:
    g: int
    conv: ConversationInput
    s: Sentence


def stable_id(*parts: str) -> str:
    """A UUID-shaped id derived from stable keys (re-running synthesis keeps ids)."""
    h = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def evidence(item: GlobalSentence, idxs: list[int] | None = None) -> dict[str, Any]:
    conv = item.conv
    sents = conv.analysis.sentences
    if idxs and len(idxs) > 1:
        first, last = sents[idxs[0]], sents[idxs[-1]]
        quote = conv.turns[first.turn]["text"][first.start : last.end]
    else:
        quote = item.s.text
    return {
        "conversation_id": conv.conversation_id,
        "contact_id": conv.contact.id,
        "quote": quote,
        "citation": f"{conv.conversation_id}:chunk_{item.s.chunk}",
    }


class Synthesizer:
    """Builds all outputs for one campaign."""

    def __init__(self, campaign: dict[str, Any], conversations: list[ConversationInput], embed) -> None:
        self.campaign = campaign
        self.interview_id = campaign.get("id", "")
        self.convs = sorted(conversations, key=lambda c: (c.contact.name.lower(), c.conversation_id))
        self.embed = embed
        self.sentences: list[GlobalSentence] = []
        self.offset: dict[str, int] = {}
        for conv in self.convs:
            self.offset[conv.conversation_id] = len(self.sentences)
            for s in conv.analysis.sentences:
                self.sentences.append(GlobalSentence(len(self.sentences), conv, s))
        self.n_contacts = len({c.contact.id for c in self.convs})

    # -- processes ----------------------------------------------------------------------------

    def build_processes(self) -> None:
        texts = [g.s.text for g in self.sentences]
        contexts = [g.s.question for g in self.sentences]
        emb = (
            np.vstack([c.embeddings for c in self.convs if len(c.embeddings)])
            if self.sentences
            else np.zeros((0, 1), dtype=np.float32)
        )
        who = [g.conv.contact.id for g in self.sentences]
        seeds = seeds_from_topics(self.campaign.get("topics") or [])
        turns = [f"{g.conv.conversation_id}:{g.s.turn}" for g in self.sentences]
        clusters, assign, score = discover_processes(texts, contexts, emb, who, seeds, self.embed, turns=turns)
        self.assign = assign
        self.assign_score = score
        kept: list[tuple[int, ProcessCluster]] = []
        for k, cl in enumerate(clusters):
            if len(cl.members) >= 3:
                kept.append((k, cl))
        self.processes: list[dict[str, Any]] = []
        self.process_of_cluster: dict[int, dict[str, Any]] = {}
        categories: dict[str, dict[str, Any]] = {}
        for k, cl in kept:
            per_contact: dict[str, list[int]] = defaultdict(list)
            for i in cl.members:
                per_contact[who[i]].append(i)
            # a contact discusses a process when one of their sentences is assigned to it (assignment
            # already keeps only the better-fitting part of each answer)
            contact_ids = sorted(c for c, idx in per_contact.items() if len(idx) >= MIN_SENTENCES)
            if not contact_ids:
                continue
            pid = stable_id(self.interview_id, "process", cl.category, cl.name)
            cat = categories.setdefault(
                cl.category,
                {
                    "id": stable_id(self.interview_id, "category", cl.category),
                    "name": cl.category,
                    "process_ids": [],
                    "mention_count": 0,
                },
            )
            # evidence: each contact's most central sentence, strongest contacts first
            ordered = sorted(contact_ids, key=lambda c: -max(cl.scores[i] for i in per_contact[c]))
            ev_idx = [max(per_contact[c], key=lambda i: cl.scores[i]) for c in ordered][:8]
            tools = Counter()
            for i in cl.members:
                g = self.sentences[i]
                for tool, idxs in g.conv.analysis.tools.items():
                    if g.s.idx in idxs:
                        tools[tool] += 1
            coverage = len(contact_ids) / max(1, self.n_contacts)
            consensus = "consensus" if coverage >= 0.8 else "edge_case" if len(contact_ids) == 1 else "common"
            proc = {
                "id": pid,
                "name": cl.name,
                "category_id": cat["id"],
                "description": self._describe(cl, len(contact_ids)),
                "mention_count": len(cl.members),
                "contact_count": len(contact_ids),
                "contact_ids": contact_ids,
                "coverage": round(coverage, 3),
                "consensus": consensus,
                "tools": [t for t, _ in tools.most_common(6)],
                "pain_point_count": 0,
                "evidence": [evidence(self.sentences[i]) for i in ev_idx],
            }
            cat["process_ids"].append(pid)
            cat["mention_count"] += len(cl.members)
            self.processes.append(proc)
            self.process_of_cluster[k] = proc
        self.categories = list(categories.values())

    def _describe(self, cl: ProcessCluster, contacts: int) -> str:
        terms = ", ".join(cl.terms[:6])
        who = f"{contacts} of {self.n_contacts} participants"
        return f"{cl.name} ({cl.category}), discussed by {who}. Recurring terms: {terms}."

    def process_for(self, g: int) -> dict[str, Any] | None:
        k = int(self.assign[g]) if len(self.assign) else -1
        return self.process_of_cluster.get(k)

    # -- connections --------------------------------------------------------------------------

    def build_connections(self) -> list[dict[str, Any]]:
        co: Counter[tuple[str, str]] = Counter()
        seq: Counter[tuple[str, str]] = Counter()
        dep: Counter[tuple[str, str]] = Counter()
        for conv in self.convs:
            base = self.offset[conv.conversation_id]
            sents = conv.analysis.sentences
            by_turn: dict[int, list[tuple[int, str]]] = defaultdict(list)
            for s in sents:
                p = self.process_for(base + s.idx)
                if p:
                    by_turn[s.turn].append((s.idx, p["id"]))
            for items in by_turn.values():
                ids = sorted({pid for _, pid in items})
                for a in range(len(ids)):
                    for b in range(a + 1, len(ids)):
                        co[(ids[a], ids[b])] += 1
                for (_i1, p1), (i2, p2) in itertools.pairwise(items):
                    if p1 == p2:
                        continue
                    text = sents[i2].text.lower()
                    if re.search(r"\b(then|once|after that|afterwards|next|hands? (it )?off|passes|goes to)\b", text):
                        seq[(p1, p2)] += 1
                    if re.search(r"\b(depends on|waiting (on|for)|can't .* until|needs? .* first|blocked)\b", text):
                        dep[(p2, p1)] += 1
        out = []
        for (a, b), w in seq.most_common():
            out.append({"source": a, "target": b, "kind": "hands_off_to", "weight": w})
        for (a, b), w in dep.most_common():
            out.append({"source": a, "target": b, "kind": "depends_on", "weight": w})
        for (a, b), w in co.most_common(40):
            if w >= 2:
                out.append({"source": a, "target": b, "kind": "co_mentioned", "weight": w})
        return out

    # -- personas ------------------------------------------------------------------------------

    def build_personas(self) -> list[dict[str, Any]]:
        personas = []
        self.pain_records: list[dict[str, Any]] = []
        for conv in self.convs:
            a = conv.analysis
            base = self.offset[conv.conversation_id]
            sents = a.sentences
            c = conv.contact
            frustrations = []
            for pp in a.pain_points:
                run = pp.get("sentences") or [pp["sentence"]]
                head = pp["sentence"]
                proc = self.process_for(base + head) or next(
                    (p for i in run if (p := self.process_for(base + i))), None
                )
                g = self.sentences[base + head]
                ev = evidence(g, run)
                item = {
                    "text": pp["text"],
                    "severity": pp["severity"],
                    "process_id": proc["id"] if proc else None,
                    "evidence": [ev],
                }
                frustrations.append(item)
                self.pain_records.append(
                    {
                        **item,
                        "contact_id": c.id,
                        "score": pp["score"],
                        "process": proc,
                        "g": base + head,
                        "quote": ev["quote"],
                    }
                )
            motivations = []
            for run in a.motivations:
                head = max(run, key=lambda i: sents[i].motivation)
                g = self.sentences[base + head]
                motivations.append({"text": sents[head].text, "evidence": [evidence(g, run)]})
            characteristics = self._characteristics(conv)
            procs = []
            for s in sents:
                p = self.process_for(base + s.idx)
                if p and c.id in p["contact_ids"] and p["name"] not in procs:
                    procs.append(p["name"])
            tools = self._contact_tools(conv)
            personas.append(
                {
                    "id": stable_id(self.interview_id, "persona", c.id),
                    "contact_id": c.id,
                    "name": c.name,
                    "job_title": c.job_title,
                    "department": c.department,
                    "seniority_level": c.seniority_level,
                    "summary": a.summary,
                    "characteristics": characteristics,
                    "motivations": motivations,
                    "frustrations": frustrations,
                    "tools": tools,
                    "processes": procs,
                    "digital_maturity_score": a.digital_maturity_score,
                }
            )
        for p in self.processes:
            p["pain_point_count"] = sum(1 for r in self.pain_records if r["process_id"] == p["id"])
        return personas

    def _contact_tools(self, conv: ConversationInput) -> list[str]:
        tools = conv.analysis.tools
        keep = []
        for name, _idxs in sorted(tools.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            if name in self.campaign_tools:
                keep.append(name)
        return keep

    def campaign_tool_filter(self) -> None:
        """Keep tool names that look like tools at campaign level: camel-case or generic ones, or
        names that recur (two mentions, or two people)."""
        mentions: Counter[str] = Counter()
        people: dict[str, set[str]] = defaultdict(set)
        for conv in self.convs:
            for name, idxs in conv.analysis.tools.items():
                mentions[name] += len(idxs)
                people[name].add(conv.contact.id)
        from harken.knowledge.nlp.extract import _CAMEL, GENERIC_TOOLS

        keep = set()
        for name, n in mentions.items():
            camel = any(_CAMEL.match(p) for p in name.split())
            generic = name in GENERIC_TOOLS.values() or name.startswith("Paper ")
            if camel or generic or n >= 2 or len(people[name]) >= 2:
                keep.add(name)
        self.campaign_tools = keep

    def _characteristics(self, conv: ConversationInput) -> list[dict[str, Any]]:
        a = conv.analysis
        base = self.offset[conv.conversation_id]
        out = []
        role = next(
            (
                s
                for s in a.sentences
                if re.search(
                    r"\b(i'm|i am|i run|i own|i manage|i lead|i work|my role|my job|my team)\b", s.text.lower()
                )
            ),
            None,
        )
        if role is not None:
            out.append({"text": f"Role: {role.text}", "evidence": [evidence(self.sentences[base + role.idx])]})
        if a.tools:
            top = sorted(a.tools.items(), key=lambda kv: -len(kv[1]))[:3]
            s = a.sentences[top[0][1][0]]
            names = ", ".join(t for t, _ in top)
            out.append({"text": f"Works day to day with {names}", "evidence": [evidence(self.sentences[base + s.idx])]})
        level = a.digital_maturity_score
        word = {1: "very low", 2: "low", 3: "moderate", 4: "high", 5: "very high"}[level]
        manual = next(
            (s for s in a.sentences if re.search(r"\b(by hand|manual|paper|copy|spreadsheet|retyp)", s.text.lower())),
            None,
        )
        if manual is not None:
            out.append(
                {
                    "text": f"Digital maturity {level}/5 ({word}): relies on manual steps",
                    "evidence": [evidence(self.sentences[base + manual.idx])],
                }
            )
        return out

    def build_departments(self, personas: list[dict[str, Any]]) -> list[dict[str, Any]]:
        by_dept: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for p in personas:
            by_dept[p["department"] or "Unassigned"].append(p)
        out = []
        for dept, members in sorted(by_dept.items()):
            frustrations = sorted(
                (f for m in members for f in m["frustrations"]),
                key=lambda f: {"high": 0, "medium": 1, "low": 2}[f["severity"]],
            )[:6]
            motivations = [m["motivations"][0] for m in members if m["motivations"]][:5]
            characteristics = [m["characteristics"][0] for m in members if m["characteristics"]][:5]
            titles = ", ".join(sorted({m["job_title"] for m in members if m["job_title"]}))
            avg = sum(m["digital_maturity_score"] for m in members) / len(members)
            out.append(
                {
                    "department": dept,
                    "contact_count": len(members),
                    "summary": f"{len(members)} participant(s) ({titles}); average digital maturity {avg:.1f}/5.",
                    "characteristics": characteristics,
                    "motivations": motivations,
                    "frustrations": frustrations,
                }
            )
        return out

    # -- roadmap -------------------------------------------------------------------------------

    def build_roadmap(self) -> list[dict[str, Any]]:
        by_proc: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in self.pain_records:
            if r["process"] is not None:
                by_proc[r["process"]["id"]].append(r)
        opps = []
        for proc in self.processes:
            records = by_proc.get(proc["id"], [])
            if not records:
                continue
            records.sort(key=lambda r: -r["score"])
            contacts = sorted({r["contact_id"] for r in records})
            sev = Counter(r["severity"] for r in records)
            impact = 1 + min(2, len(contacts) - 1) + (1 if sev["high"] else 0) + (1 if len(records) >= 4 else 0)
            impact = max(1, min(5, impact))
            effort = self._effort(proc, records)
            score = round(impact * (6 - effort) / 5, 2)
            top = records[0]
            kind, verb = _solution_kind(" ".join(r["quote"] for r in records))
            lowered = proc["name"][0].lower() + proc["name"][1:]
            title = f"Make {lowered} reliable" if kind == "reliability" else f"{verb} {lowered}"
            problem = (
                f"{len(contacts)} participant(s) describe problems with {proc['name'].lower()}: "
                f"\u201c{top['text']}\u201d"
            )
            solution = _solution_text(kind, proc)
            opps.append(
                {
                    "id": stable_id(self.interview_id, "opportunity", proc["id"]),
                    "title": title,
                    "problem": problem,
                    "proposed_solution": solution,
                    "impact": impact,
                    "effort": effort,
                    "score": score,
                    "process_ids": [proc["id"]],
                    "pain_points": [{"text": r["quote"], "contact_id": r["contact_id"]} for r in records[:8]],
                    "supporting_contacts": len(contacts),
                    "evidence": [r["evidence"][0] for r in records[:5]],
                }
            )
        opps.sort(key=lambda o: (-o["score"], o["title"]))
        phases = {"now": [], "next": [], "later": []}
        for o in opps:
            if (o["impact"] >= 4 and o["effort"] <= 3) or o["score"] >= 3:
                phases["now"].append(o)
            elif o["score"] >= 1.8:
                phases["next"].append(o)
            else:
                phases["later"].append(o)
        return [{"horizon": h, "opportunities": phases[h]} for h in ("now", "next", "later")]

    def _effort(self, proc: dict[str, Any], records: list[dict[str, Any]]) -> int:
        text = " ".join(r["quote"] for r in records).lower()
        effort = 2
        if len(proc["tools"]) >= 3:
            effort += 1
        if re.search(r"\b(integrat|migrat|rebuild|contract|polic|rule|approval|legal|vendor)", text):
            effort += 1
        if re.search(r"\b(notif|template|checklist|definition|reminder|switch(ed)? off|turn(ed)? off)", text):
            effort -= 1
        return max(1, min(5, effort))

    # -- themes, summary -------------------------------------------------------------------------

    def build_summary(self, personas: list[dict[str, Any]], phases: list[dict[str, Any]]) -> dict[str, Any]:
        themes = []
        for p in sorted(self.processes, key=lambda p: (-p["contact_count"], -p["mention_count"]))[:8]:
            themes.append(
                {
                    "name": p["name"],
                    "description": p["description"],
                    "mention_count": p["mention_count"],
                    "contact_count": p["contact_count"],
                }
            )
        opps = [o for ph in phases for o in ph["opportunities"]]
        depts = sorted({p["department"] for p in personas if p["department"]})
        goal = (self.campaign.get("goal") or "").strip()
        lines = [
            f"{len(self.convs)} conversation(s) with {self.n_contacts} participant(s)"
            + (f" across {', '.join(depts)}." if depts else "."),
        ]
        if goal:
            lines.append(f"Goal: {goal}")
        if themes:
            lines.append(
                "Most discussed: " + ", ".join(f"{t['name']} ({t['contact_count']} people)" for t in themes[:5]) + "."
            )
        pains = sorted(self.pain_records, key=lambda r: -r["score"])[:3]
        if pains:
            lines.append("Sharpest frustrations: " + " ".join(f"\u201c{r['text']}\u201d" for r in pains))
        recs = [f"{o['title']} (impact {o['impact']}/5, effort {o['effort']}/5)" for o in opps[:6]]
        return {"key_themes": themes, "summary": " ".join(lines), "recommendations": recs}

    def run(self) -> dict[str, Any]:
        self.campaign_tool_filter()
        self.build_processes()
        personas = self.build_personas()
        departments = self.build_departments(personas)
        connections = self.build_connections()
        phases = self.build_roadmap()
        summary = self.build_summary(personas, phases)
        return {
            "conversation_count": len(self.convs),
            "cartography": {"categories": self.categories, "processes": self.processes, "connections": connections},
            "roadmap": {"phases": phases},
            "personas": {"personas": personas, "departments": departments},
            **summary,
            "assignments": self.assignments(),
        }

    def assignments(self) -> dict[str, list[str]]:
        """Sentence -> process ids (`"<conversation_id>:<sentence idx>"`), the graph's Said-About edges."""
        out = {}
        for g in self.sentences:
            proc = self.process_for(g.g)
            if proc is not None:
                out[f"{g.conv.conversation_id}:{g.s.idx}"] = [proc["id"]]
        return out


_KINDS = (
    (
        "consolidate",
        "Consolidate",
        r"\b(email|phone|call|channel|everywhere|duplicate|lost|scatter|places|binder|spread)",
    ),
    (
        "visibility",
        "Give visibility into",
        r"\b(don't know|no idea|visib|nobody told|status|update|where .* is|no way to see|can't see)",
    ),
    ("automate", "Automate", r"\b(by hand|manual|copy|paste|retyp|export|spreadsheet|excel|pivot)"),
    ("speed", "Speed up", r"\b(weeks|months|wait|slow|queue|delay|stuck|sat|late)"),
    ("reliability", "Make reliable", r"\b(broke|fail|wrong|error|silent|stale|outdated|out of date)"),
)


def _solution_kind(text: str) -> tuple[str, str]:
    low = text.lower()
    best = max(_KINDS, key=lambda k: len(re.findall(k[2], low)))
    if not re.search(best[2], low):
        return "improve", "Improve"
    return best[0], best[1]


def _solution_text(kind: str, proc: dict[str, Any]) -> str:
    name = proc["name"].lower()
    tools = ", ".join(proc["tools"][:3])
    where = f" in {tools}" if tools else ""
    return {
        "consolidate": f"Bring {name} into one channel and one record{where}, so nothing is lost or duplicated.",
        "visibility": f"Give everyone involved in {name} a shared, current status view and automatic updates{where}.",
        "automate": f"Replace the manual copying and re-keying in {name} with an automated flow{where}.",
        "speed": f"Shorten the waiting in {name}: clear owners, deadlines and reminders, and fewer hand-offs.",
        "reliability": f"Make {name} reliable: correct the underlying records and alert when something breaks.",
        "improve": f"Redesign {name} with the people who do it, starting from the pain points quoted here.",
    }[kind]


def synthesize(campaign: dict[str, Any], conversations: list[ConversationInput], embed) -> dict[str, Any]:
    return Synthesizer(campaign, conversations, embed).run()


__all__ = ["ContactInfo", "ConversationInput", "Synthesizer", "evidence", "pick_windows", "stable_id", "synthesize"]
