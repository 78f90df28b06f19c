"""Reading interview transcripts: JSON turns, WebVTT, SRT and plain `Speaker: text` lines.

Every reader produces `RawTurn`s (a speaker label, text, and an absolute time or an offset in
seconds); `normalize()` then decides who the interviewer is, orders the turns by time when every
turn has one, anchors offsets to the conversation's start and returns the stored transcript
`[{speaker: agent|participant, text, at}]`.

Interviewer detection: a label such as Interviewer, Agent, Moderator, Researcher, Host,
Facilitator or Assistant wins; otherwise the speaker who asks the most questions; a single speaker
is the participant.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from harken.campaigns.csv_import import decode_text
from harken.core.db import isoformat, utcnow
from harken.core.errors import MalformedRequest, UnprocessableEntity

AGENT_WORDS = (
    "agent",
    "interviewer",
    "moderator",
    "researcher",
    "host",
    "facilitator",
    "assistant",
    "harken",
    "ontora",
    "ux researcher",
)
PARTICIPANT_WORDS = ("participant", "respondent", "interviewee", "user", "customer", "employee", "guest", "contact")
_AGENT_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w in AGENT_WORDS) + r")\b", re.IGNORECASE)
_PARTICIPANT_RE = re.compile(r"^(" + "|".join(PARTICIPANT_WORDS) + r")\b", re.IGNORECASE)

_TS = r"(?:\d+:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"
_TIMING_RE = re.compile(rf"^\s*({_TS})\s*-->\s*({_TS})")
_VOICE_RE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]*)>", re.IGNORECASE)
_TAG_RE = re.compile(r"</?[^>]+>")
_LABEL_LINE_RE = re.compile(
    rf"^\s*(?:[\[(]?({_TS})[\])]?\s*[-\u2013|]?\s*)?"  # optional leading timestamp
    r"\**([^\W\d_][^:\n]{0,59}?)\**"  # speaker label
    rf"\s*(?:[\[(]({_TS})[\])])?\s*:\**\s*(.*)$"  # optional trailing timestamp, colon, text
)
_BRACKET_LABEL_RE = re.compile(r"^\s*\[([^\]\n]{1,60})\]\s*:?\s*(.+)$")


@dataclass
class RawTurn:
    speaker: str | None
    text: str
    at: datetime | None = None
    offset: float | None = None


@dataclass
class ParsedTranscript:
    turns: list[dict[str, Any]]
    roles: dict[str, str]
    started_at: datetime | None
    ended_at: datetime | None
    format: str
    notes: list[str] = field(default_factory=list)

    @property
    def participant_labels(self) -> list[str]:
        return [label for label, role in self.roles.items() if role == "participant"]


# ---------------------------------------------------------------- helpers


def _seconds(stamp: str) -> float:
    parts = stamp.replace(",", ".").split(":")
    total = 0.0
    for part in parts:
        total = total * 60 + float(part)
    return total


def _clean(text: str) -> str:
    return re.sub(r"[ \t\r\f\v]+", " ", html.unescape(_TAG_RE.sub("", text))).strip()


def _label_ok(label: str) -> bool:
    label = label.strip()
    words = label.split()
    if not words or len(words) > 6 or len(label) > 60:
        return False
    return not re.search(r"[.?!,;\"“”]|https?", label)


def parse_time_value(value: Any) -> tuple[datetime | None, float | None]:
    """An absolute time (ISO string, datetime, Unix seconds) or an offset in seconds."""
    if value is None or value == "":
        return None, None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)), None
    if isinstance(value, bool):
        return None, None
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            return None, None
        if value > 1e8:
            try:
                return datetime.fromtimestamp(float(value), UTC), None
            except (OverflowError, ValueError, OSError):
                return None, None
        return None, float(value) if value >= 0 else None
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(_TS, text):
            return None, _seconds(text)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None, None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)), None
    return None, None


# ---------------------------------------------------------------- readers


def read_json_turns(items: list[Any]) -> list[RawTurn]:
    turns = []
    for item in items:
        if not isinstance(item, dict):
            raise UnprocessableEntity("Each turn must be an object with speaker and text")
        speaker = item.get("speaker", item.get("role", item.get("name")))
        text = item.get("text", item.get("content", item.get("message")))
        if not isinstance(text, str):
            raise UnprocessableEntity("Each turn needs a text string")
        at, offset = parse_time_value(item.get("at", item.get("timestamp", item.get("start"))))
        label = str(speaker).replace("\x00", "").strip() if speaker is not None else None
        turns.append(RawTurn(label or None, text.replace("\x00", ""), at, offset))
    return turns


def read_vtt(text: str) -> list[RawTurn]:
    """WebVTT and SRT: cues with timings; speakers from `<v Name>` tags or `Name:` prefixes."""
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    turns: list[RawTurn] = []
    for block in blocks:
        lines = [line for line in block.split("\n") if line.strip()]
        timing_index = next((i for i, line in enumerate(lines[:3]) if _TIMING_RE.match(line)), None)
        if timing_index is None:
            continue  # header, NOTE, STYLE, REGION, stray text
        match = _TIMING_RE.match(lines[timing_index])
        assert match is not None
        offset = _seconds(match.group(1))
        body = "\n".join(lines[timing_index + 1 :])
        if not body.strip():
            continue
        pieces = _VOICE_RE.split(body)
        if len(pieces) > 1:
            lead = _clean(pieces[0])
            if lead:
                turns.append(RawTurn(None, lead, offset=offset))
            for name, content in zip(pieces[1::2], pieces[2::2], strict=False):
                cleaned = _clean(content.replace("\n", " "))
                if cleaned:
                    turns.append(RawTurn(_clean(name) or None, cleaned, offset=offset))
            continue
        speaker: str | None = None
        parts: list[str] = []
        for line in body.split("\n"):
            cleaned = _clean(line)
            label = _LABEL_LINE_RE.match(cleaned)
            bracket = _BRACKET_LABEL_RE.match(cleaned)
            if label and _label_ok(label.group(2)) and label.group(4):
                if parts:
                    turns.append(RawTurn(speaker, " ".join(parts), offset=offset))
                speaker, parts = label.group(2).strip(), [label.group(4)]
            elif bracket and _label_ok(bracket.group(1)):
                if parts:
                    turns.append(RawTurn(speaker, " ".join(parts), offset=offset))
                speaker, parts = bracket.group(1).strip(), [bracket.group(2)]
            elif cleaned:
                parts.append(cleaned.lstrip("- ").strip() if cleaned.startswith("- ") else cleaned)
        if parts:
            turns.append(RawTurn(speaker, " ".join(parts), offset=offset))
    return turns


def read_plain(text: str) -> list[RawTurn]:
    """`Speaker: text` lines; lines without a known speaker continue the previous turn."""
    candidates: list[tuple[str | None, str, float | None]] = []
    counts: dict[str, int] = {}
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line.strip():
            candidates.append((None, "", None))
            continue
        match = _LABEL_LINE_RE.match(line)
        if match and _label_ok(match.group(2)):
            label = match.group(2).strip().strip("*").strip()
            stamp = match.group(1) or match.group(3)
            candidates.append((label, match.group(4).strip(), _seconds(stamp) if stamp else None))
            counts[label] = counts.get(label, 0) + 1
        else:
            candidates.append((None, line.strip(), None))
    frequent = {label for label, n in counts.items() if n >= 2 or _is_agent_label(label)}
    timed = {label for label, _, offset in candidates if label is not None and offset is not None}
    # An interview has two sides: with fewer than two recurring speakers, every label counts.
    known = (frequent | timed) if len(frequent) >= 2 else set(counts)
    turns: list[RawTurn] = []
    for label, content, offset in candidates:
        if label is not None and label in known:
            turns.append(RawTurn(label, content, offset=offset))
        elif label is not None:  # "Note: ..." inside someone's answer
            _continue(turns, f"{label}: {content}")
        elif content:
            _continue(turns, content)
    return [t for t in turns if t.text.strip()]


def _continue(turns: list[RawTurn], text: str) -> None:
    if turns:
        turns[-1].text = f"{turns[-1].text} {text}".strip() if turns[-1].text else text
    else:
        turns.append(RawTurn(None, text))


@dataclass
class FileTranscript:
    format: str
    turns: list[RawTurn]
    started_at: datetime | None = None
    ended_at: datetime | None = None


def read_file(data: bytes, filename: str | None, content_type: str | None) -> FileTranscript:
    """Detect the format (extension, content type, then content) and read the turns."""
    text, _ = decode_text(data, what="transcript")
    stripped = text.replace("\x00", "").lstrip("\ufeff \t\r\n")
    name = (filename or "").lower()
    ctype = (content_type or "").lower()
    if name.endswith(".json") or "json" in ctype or stripped[:1] in "[{":
        try:
            payload = json.loads(stripped)
        except json.JSONDecodeError as exc:
            if name.endswith(".json") or "json" in ctype:
                raise MalformedRequest(f"The transcript is not valid JSON: {exc.msg} (line {exc.lineno})") from exc
        else:
            items = payload.get("turns") if isinstance(payload, dict) else payload
            if not isinstance(items, list):
                raise UnprocessableEntity("A JSON transcript must be a list of turns or an object with 'turns'")
            started = parse_time_value(payload.get("started_at"))[0] if isinstance(payload, dict) else None
            ended = parse_time_value(payload.get("ended_at"))[0] if isinstance(payload, dict) else None
            return FileTranscript("json", read_json_turns(items), started, ended)
    if stripped.startswith("WEBVTT") or name.endswith(".vtt") or "vtt" in ctype:
        turns = read_vtt(stripped)
        _require_speakers(turns, "WebVTT")
        return FileTranscript("vtt", turns)
    if name.endswith(".srt") or re.search(rf"^\s*\d+\s*\n\s*{_TS}\s*-->", stripped[:2000], re.MULTILINE):
        turns = read_vtt(stripped)
        _require_speakers(turns, "SRT")
        return FileTranscript("srt", turns)
    turns = read_plain(stripped)
    if turns and all(t.speaker is None for t in turns):
        raise UnprocessableEntity("No speakers found: a plain-text transcript needs one 'Speaker: text' line per turn")
    return FileTranscript("text", turns)


def _require_speakers(turns: list[RawTurn], kind: str) -> None:
    if turns and all(t.speaker is None for t in turns):
        raise UnprocessableEntity(
            f"No speakers found in the {kind} file: mark each cue with a voice tag (<v Name>) or a 'Name:' prefix"
        )


# ---------------------------------------------------------------- roles and normalization


_AGENT_EXACT = {"ai", "bot", "q", "int", "ai interviewer", "chatbot"}


def _is_agent_label(label: str) -> bool:
    low = label.strip().lower()
    if _PARTICIPANT_RE.match(low):
        return False
    return low in _AGENT_EXACT or bool(_AGENT_RE.search(low))


def assign_roles(turns: list[RawTurn]) -> dict[str, str]:
    labels = list(dict.fromkeys(t.speaker for t in turns if t.speaker))
    if not labels:
        return {}
    roles = {label: "agent" if _is_agent_label(label) else "participant" for label in labels}
    if any(role == "agent" for role in roles.values()):
        return roles
    if len(labels) == 1:
        return roles  # a monologue: the one speaker is the participant
    questions = dict.fromkeys(labels, 0)
    spoken = dict.fromkeys(labels, 0)
    for turn in turns:
        if turn.speaker:
            spoken[turn.speaker] += 1
            questions[turn.speaker] += turn.text.count("?")
    interviewer = max(labels, key=lambda label: (questions[label], questions[label] / max(1, spoken[label])))
    if questions[interviewer] == 0:
        interviewer = labels[0]  # nobody asks: whoever opens the conversation leads it
    roles[interviewer] = "agent"
    return roles


def normalize(
    raw: list[RawTurn],
    *,
    fmt: str,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
) -> ParsedTranscript:
    # Unlabelled turns continue the previous speaker (or are the participant when nothing precedes).
    turns: list[RawTurn] = []
    for turn in raw:
        text = turn.text.strip()
        if not text:
            continue
        if turn.speaker is None and turns:
            turn = RawTurn(turns[-1].speaker, text, turn.at, turn.offset)
        turns.append(RawTurn(turn.speaker, text, turn.at, turn.offset))
    if not turns:
        raise UnprocessableEntity("The transcript has no turns: nothing was said")
    roles = assign_roles(turns)
    direct = {"agent": "agent", "participant": "participant"}
    notes: list[str] = []

    def role_of(label: str | None) -> str:
        if label is None:
            return "participant"
        return direct.get(label.lower(), roles.get(label, "participant"))

    # Offsets (VTT/SRT/relative JSON) are anchored at the start; without one, at the end (now).
    offsets = [t.offset for t in turns if t.offset is not None]
    anchor = started_at
    if anchor is None and offsets:
        try:
            anchor = (ended_at or utcnow()) - timedelta(seconds=max(offsets))
        except OverflowError as exc:
            raise UnprocessableEntity("A turn's time offset is out of range") from exc
    for turn in turns:
        if turn.at is None and turn.offset is not None and anchor is not None:
            try:
                turn.at = anchor + timedelta(seconds=turn.offset)
            except OverflowError as exc:
                raise UnprocessableEntity("A turn's time offset is out of range") from exc
    if all(t.at is not None for t in turns):
        ordered = sorted(turns, key=lambda t: t.at)  # type: ignore[arg-type,return-value]  # stable
        if ordered != turns:
            notes.append("turns were reordered by their timestamps")
        turns = ordered
    if fmt in {"vtt", "srt"}:
        turns = _merge_same_speaker(turns)
    stamps = [t.at for t in turns if t.at is not None]
    start = started_at or (min(stamps) if stamps else None)
    end = ended_at or (max(stamps) if stamps else None)
    if start and end and end < start:
        end = max(stamps) if stamps and max(stamps) >= start else start
        notes.append("ended_at was before started_at and was corrected")
    out = [{"speaker": role_of(t.speaker), "text": t.text, "at": isoformat(t.at)} for t in turns]
    return ParsedTranscript(out, roles, start, end, fmt, notes)


def _merge_same_speaker(turns: list[RawTurn]) -> list[RawTurn]:
    merged: list[RawTurn] = []
    for turn in turns:
        if merged and merged[-1].speaker == turn.speaker:
            merged[-1].text = f"{merged[-1].text} {turn.text}"
        else:
            merged.append(RawTurn(turn.speaker, turn.text, turn.at, turn.offset))
    return merged


def transcript_text(turns: list[dict[str, Any]]) -> str:
    """The flattened text stored for `search`."""
    return "\n".join(f"{t['speaker']}: {t['text']}" for t in turns)
