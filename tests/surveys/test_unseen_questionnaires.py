"""Questionnaires the programmer was not developed on: other layouts and wording, same rules.

Each is programmed through the real API (upload, job, export) and compared field by field.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.surveys.conftest import program_file

FIXTURES = Path(__file__).parent / "fixtures"

EXPECTED = {
    "gym-feedback.md": [
        {"label": "Q1", "type": "single", "options": ["Less than a year", "1-3 years", "More than 3 years"]},
        {"label": "Q2", "type": "multi", "exclusive": ["None of the above"]},
        {"label": "Q3", "type": "single", "options": ["Yes", "No"]},
        {"label": "Q4", "type": "single", "show_if": {"question": "Q3", "op": "in", "values": ["Yes"]}},
        {"label": "Q5", "type": "numeric", "min": 0, "max": 14},
        {"label": "Q6", "type": "open"},
    ],
    "coffee-shop.txt": [
        {
            "label": "Q1",
            "type": "single",
            "options": ["Under 18", "18-34", "35-54", "55+"],
            "terminate_if": ["Under 18"],
        },
        {"label": "Q2", "type": "single", "options": ["Daily", "Weekly", "Monthly", "Rarely"]},
        {
            "label": "Q3",
            "type": "grid_single",
            "rows": ["Coffee quality", "Food quality", "Service speed"],
            "columns": ["1", "2", "3", "4", "5"],
        },
        {"label": "Q4", "type": "single", "options": ["Yes", "No"]},
        {"label": "Q5", "type": "open", "show_if": {"question": "Q4", "op": "in", "values": ["No"]}},
    ],
    "device-owners.csv": [
        {"label": "S1", "type": "single", "terminate_if": ["No"]},
        {"label": "Q1", "type": "multi", "exclusive": ["None of these"]},
        {
            "label": "Q2",
            "type": "scale",
            "min": 1,
            "max": 7,
            "show_if": {"question": "Q1", "op": "in", "values": ["Phone"]},
        },
        {"label": "Q3", "type": "rank", "options": ["Battery", "Camera", "Screen"]},
        {"label": "Q4", "type": "numeric", "min": 0, "max": 3000},
        {"label": "Q5", "type": "open"},
    ],
    "library-table.docx": [
        {
            "label": "Q1",
            "type": "single",
            "options": ["Weekly", "Monthly", "Rarely", "Never"],
            "terminate_if": ["Never"],
        },
        {"label": "Q2", "type": "multi", "exclusive": ["None of these"]},
        {"label": "Q3", "type": "scale", "min": 1, "max": 5},
        {"label": "Q4", "type": "open", "show_if": {"question": "Q3", "op": "in", "values": ["1", "2"]}},
        {"label": "Q5", "type": "numeric", "min": 0, "max": 50},
    ],
    "brand-health.txt": [
        {
            "label": "Q1",
            "type": "multi",
            "options": ["Alpha", "Beta", "Gamma", "None of these"],
            "exclusive": ["None of these"],
        },
        {"label": "Q2", "type": "single", "options": ["Alpha", "Beta", "Gamma"]},
        {"label": "Q3", "type": "open", "show_if": {"question": "Q2", "op": "in", "values": ["Alpha", "Beta"]}},
        {"label": "Q4", "type": "single", "options": ["Yes", "No"], "terminate_if": ["No"]},
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_unseen_questionnaire(client, tenant, worker, name):
    survey, _ = await program_file(client, tenant, name, (FIXTURES / name).read_bytes())
    assert survey["programming_status"] == "completed"
    export = await client.get(
        f"/v1/surveys/{survey['id']}/export", params={"format": "questions"}, headers=tenant.headers
    )
    got = [q for q in export.json()["questions"] if q["type"] != "text"]
    assert [q["label"] for q in got] == [e["label"] for e in EXPECTED[name]]
    for expected, actual in zip(EXPECTED[name], got, strict=True):
        for key, value in expected.items():
            assert actual.get(key) == value, (name, expected["label"], key, actual)


async def test_xlsx_that_is_really_csv_is_programmed_as_csv(client, tenant, worker):
    survey, _ = await program_file(client, tenant, "devices.xlsx", (FIXTURES / "device-owners.csv").read_bytes())
    assert survey["programming_status"] == "completed"
    assert len([b for p in survey["pages"] for b in p["blocks"]]) >= 6


async def test_unseen_pdf_with_lettered_answers_and_inline_notes(client, tenant, worker):
    from tests.surveys.conftest import make_pdf

    lines = [
        "Pet Owner Study",
        "1. Do you own a pet?",
        "a. Yes",
        "b. No - thank and close",
        "2. What kind of pet do you own? (Select all that apply)",
        "a. Dog",
        "b. Cat",
        "c. Other (please specify)",
        "3. How much do you spend on pet food per month, in pounds? RANGE 0-500",
        "4. How would you rate your vet on:",
        "Statements: Friendliness; Price; Availability",
        "Scale: Poor / Fair / Good / Excellent",
        "5. Would you switch vets?",
        "Yes / No / Not sure",
    ]
    survey, _ = await program_file(client, tenant, "pets.pdf", make_pdf(lines))
    export = await client.get(
        f"/v1/surveys/{survey['id']}/export", params={"format": "questions"}, headers=tenant.headers
    )
    body = export.json()
    assert body["title"] == "Pet Owner Study"
    q = {item["label"]: item for item in body["questions"]}
    assert q["Q1"]["options"] == ["Yes", "No"] and q["Q1"]["terminate_if"] == ["No"]
    assert q["Q2"]["type"] == "multi" and q["Q2"]["options"][-1] == "Other (please specify)"
    assert (q["Q3"]["type"], q["Q3"]["min"], q["Q3"]["max"]) == ("numeric", 0, 500)
    assert q["Q4"]["rows"] == ["Friendliness", "Price", "Availability"]
    assert q["Q4"]["columns"] == ["Poor", "Fair", "Good", "Excellent"]
    assert q["Q5"]["options"] == ["Yes", "No", "Not sure"]
