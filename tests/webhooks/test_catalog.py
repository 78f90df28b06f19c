"""The catalog against the seeds: every example payload's keys and value types, read from the seed
files themselves, match what the builders produce and what `emit` accepts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harken.webhooks import catalog
from harken.webhooks.catalog import EventValidationError, validate_event
from tests.helpers import SHARED

SEEDS = SHARED / "seeds"


def seed_examples() -> dict[str, dict[str, Any]]:
    """Every JSON example in seeds 000 and 002, by event type."""
    examples: dict[str, dict[str, Any]] = {}
    for name in ("000_1d105f0d4815ddd3.txt", "002_d657a598c2f14523.txt"):
        lines = (SEEDS / name).read_text().splitlines()
        i = 0
        while i < len(lines):
            if lines[i].strip() == "{":
                depth, block = 0, []
                for j in range(i, len(lines)):
                    block.append(lines[j])
                    depth += lines[j].count("{") - lines[j].count("}")
                    if depth == 0:
                        break
                i = j
                try:
                    value = json.loads("\n".join(block))
                except json.JSONDecodeError:
                    value = None  # the generic envelope with a /* comment */
                if isinstance(value, dict) and "event" in value:
                    examples[value["event"]] = value
            i += 1
    return examples


EXAMPLES = seed_examples()


def shape(value: Any) -> Any:
    """Keys and JSON types, recursively (null is compatible with anything nullable)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return ["list", *sorted({type(v).__name__ for v in value})]
    return type(value).__name__


def builder_output(event_type: str, seed_data: dict[str, Any]) -> dict[str, Any]:
    builders = {
        "campaign.started": catalog.campaign_started,
        "campaign.paused": catalog.campaign_paused,
        "campaign.completed": catalog.campaign_completed,
        "synthesis.completed": catalog.synthesis_completed,
        "survey.created": catalog.survey_state,
        "survey.updated": catalog.survey_state,
        "survey.deleted": catalog.survey_deleted,
        "programming.started": catalog.programming_started,
        "programming.finished": catalog.programming_finished,
    }
    if event_type in builders:
        return builders[event_type](**seed_data)
    contact = seed_data["contact"]
    rest = {k: v for k, v in seed_data.items() if k != "contact"}
    fn = catalog.interview_scheduled if event_type == "interview.scheduled" else catalog.interview_completed
    return fn(contact_name=contact["name"], contact_email=contact["email"], **rest)


def test_the_seeds_define_all_eleven_events() -> None:
    assert sorted(EXAMPLES) == sorted(catalog.EVENT_TYPES)
    assert len(catalog.EVENT_TYPES) == 11
    assert set(catalog.ALL_EVENT_TYPES) == {*catalog.EVENT_TYPES, "webhook.test"}


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_builders_produce_exactly_the_seed_keys_and_types(event_type: str) -> None:
    seed = EXAMPLES[event_type]["data"]
    built = builder_output(event_type, seed)
    assert list(built) == list(seed)  # same keys, same order
    assert shape(built) == shape(seed)
    validate_event(event_type, built)


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_synthetic_examples_have_the_seed_keys(event_type: str) -> None:
    seed = EXAMPLES[event_type]["data"]
    example = catalog.example_data(event_type, workspace_id="ws")
    assert list(example) == list(seed)
    for key, value in seed.items():
        if value is not None and example[key] is not None:
            assert shape(example[key]) == shape(value), key
    validate_event(event_type, example)


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_missing_seed_keys_are_rejected(event_type: str) -> None:
    seed = EXAMPLES[event_type]["data"]
    for key in seed:
        partial = {k: v for k, v in seed.items() if k != key}
        with pytest.raises(EventValidationError, match=f"missing key {key}"):
            validate_event(event_type, partial)


def test_additive_fields_are_allowed_and_bad_types_rejected() -> None:
    validate_event("campaign.started", {"interview_id": "i", "name": "n", "contact_count": 3, "extra": 1})
    with pytest.raises(EventValidationError, match="contact_count must be int"):
        validate_event("campaign.started", {"interview_id": "i", "name": "n", "contact_count": "3"})
    with pytest.raises(EventValidationError, match="contact_count must be int"):
        validate_event("campaign.started", {"interview_id": "i", "name": "n", "contact_count": True})
    with pytest.raises(EventValidationError, match=r"contact\.email"):
        validate_event(
            "interview.scheduled",
            {"interview_id": "i", "conversation_id": "c", "contact": {"name": "x"}, "scheduled_for": None},
        )
    with pytest.raises(EventValidationError, match="status must be one of"):
        validate_event("programming.finished", {"survey_id": "s", "file_id": "f", "status": "done"})
    with pytest.raises(EventValidationError, match="reason must be one of"):
        validate_event("campaign.paused", {"interview_id": "i", "reason": "bored"})


def test_unknown_event_type_is_rejected_with_the_allowed_list() -> None:
    with pytest.raises(EventValidationError, match=r"unknown event type 'campaign.exploded'.*campaign.started"):
        validate_event("campaign.exploded", {})


def test_envelope_is_compact_json_with_the_four_keys() -> None:
    from datetime import UTC, datetime

    data = EXAMPLES["synthesis.completed"]["data"]
    text = catalog.serialize_envelope("synthesis.completed", "ws_1", datetime(2026, 4, 24, 18, 30, tzinfo=UTC), data)
    assert text == (
        '{"event":"synthesis.completed","workspace_id":"ws_1","timestamp":"2026-04-24T18:30:00Z",'
        '"data":{"interview_id":"iv_...","outputs":["cartography","roadmap","personas"]}}'
    )
    envelope = json.loads(text)
    seed = EXAMPLES["synthesis.completed"]
    assert list(envelope) == list(seed)
    assert text == json.dumps(envelope, separators=(",", ":"))
