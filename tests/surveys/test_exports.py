"""Exports: the neutral question list, FullSurvey JSON, QSF, Decipher XML, Forsta XML, XLSForm (via pyxform)."""

from __future__ import annotations

import io
import json

import pytest
from defusedxml import ElementTree as ET
from pyxform.xls2xform import convert

from tests.surveys.conftest import QUESTIONNAIRES, program_file

QUESTION_KEYS = {
    "label",
    "type",
    "text",
    "options",
    "rows",
    "columns",
    "exclusive",
    "min",
    "max",
    "show_if",
    "terminate_if",
}


@pytest.fixture
async def programmed(client, tenant, worker):
    survey, _ = await program_file(client, tenant, "csat.docx", (QUESTIONNAIRES / "csat-retail.docx").read_bytes())
    assert survey["programming_status"] == "completed"
    return survey


async def _export(client, tenant, survey, fmt):
    response = await client.get(f"/v1/surveys/{survey['slug']}/export", params={"format": fmt}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response


async def test_questions_format(client, tenant, programmed):
    body = (await _export(client, tenant, programmed, "questions")).json()
    assert set(body) == {"title", "language_code", "questions"}
    assert body["title"] == "Harbour & Vine Q3 2025 Customer Satisfaction Study"
    for q in body["questions"]:
        assert set(q) <= QUESTION_KEYS and {"label", "type", "text"} <= set(q)
    by_label = {q["label"]: q for q in body["questions"]}
    assert by_label["S2"]["exclusive"] == ["None of these"]
    assert by_label["Q7"]["type"] == "grid_single" and len(by_label["Q7"]["rows"]) == 7
    assert by_label["Q8"]["show_if"] == {
        "question": "Q6",
        "op": "in",
        "values": ["Fairly dissatisfied", "Very dissatisfied"],
    }
    assert by_label["S1"]["terminate_if"] == ["Under 18", "Prefer not to say"]


async def test_json_is_full_survey(client, tenant, programmed):
    response = await _export(client, tenant, programmed, "json")
    body = response.json()
    assert body["id"] == programmed["id"] and body["pages"] and "variables" in body
    assert "attachment" in response.headers["content-disposition"]


async def test_qsf(client, tenant, programmed):
    body = json.loads((await _export(client, tenant, programmed, "qsf")).content)
    elements = body["SurveyElements"]
    questions = [e["Payload"] for e in elements if e["Element"] == "SQ"]
    count = next(e for e in elements if e["Element"] == "QC")
    assert int(count["SecondaryAttribute"]) == len(questions)
    blocks = next(e for e in elements if e["Element"] == "BL")["Payload"][0]["BlockElements"]
    assert {b["QuestionID"] for b in blocks if b["Type"] == "Question"} == {q["QuestionID"] for q in questions}
    by_tag = {q["DataExportTag"]: q for q in questions}
    assert (by_tag["S2"]["QuestionType"], by_tag["S2"]["Selector"]) == ("MC", "MAVR")
    assert any(c.get("ExclusiveAnswer") for c in by_tag["S2"]["Choices"].values())
    assert by_tag["Q7"]["QuestionType"] == "Matrix" and by_tag["Q7"]["SubSelector"] == "SingleAnswer"
    assert by_tag["Q4"]["Validation"]["Settings"]["ContentType"] == "ValidNumber"
    logic = by_tag["Q3"]["DisplayLogic"]["0"]["0"]
    assert logic["Operator"] == "Selected" and logic["QuestionID"] == by_tag["Q2"]["QuestionID"]
    flow = next(e for e in elements if e["Element"] == "FL")["Payload"]["Flow"]
    assert any(f["Type"] == "Branch" and f["Flow"][0]["Type"] == "EndSurvey" for f in flow)


async def test_decipher(client, tenant, programmed):
    response = await _export(client, tenant, programmed, "decipher")
    root = ET.fromstring(response.content)
    assert root.tag == "survey"
    s2 = root.find("checkbox[@label='S2']")
    assert s2 is not None and s2.find("row[@exclusive='1']").text == "None of these"
    q3 = root.find("checkbox[@label='Q3']")
    assert q3.get("cond") == "Q2.r1"
    q7 = root.find("radio[@label='Q7']")
    assert len(q7.findall("row")) == 7 and len(q7.findall("col")) == 6
    assert root.find("number[@label='Q4']").get("verify") == "range(1,2000)"
    terms = root.findall("term")
    assert terms and any("S1.r1" in t.get("cond") for t in terms)
    assert root.findall("suspend")


async def test_confirmit(client, tenant, programmed):
    root = ET.fromstring((await _export(client, tenant, programmed, "confirmit")).content)
    nodes = root.find("Routing/Nodes")
    assert nodes.find("Multi[@Name='S2']/Answers/Answer[@IsExclusive='true']/Text").text == "None of these"
    condition = nodes.find("Condition[@Name='if_Q3']")
    assert condition.get("Expression") == 'f("Q2").any("1")'
    assert condition.find("TrueNodes/Multi[@Name='Q3']") is not None
    assert nodes.find("Grid[@Name='Q7']/Nodes") is not None
    assert nodes.find("Condition/TrueNodes/Stop") is not None


async def test_xlsform_converts_with_pyxform(client, tenant, programmed):
    response = await _export(client, tenant, programmed, "xlsform")
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    result = convert(xlsform=io.BytesIO(response.content), file_type=".xlsx", validate=False)
    assert "<h:html" in result.xform
    assert "selected( /" in result.xform or "selected(/" in result.xform  # relevance from showIf


@pytest.mark.parametrize("name", sorted(p.name for p in QUESTIONNAIRES.iterdir() if not p.name.endswith(".json")))
async def test_every_format_for_every_questionnaire(client, tenant, worker, name):
    survey, _ = await program_file(client, tenant, name, (QUESTIONNAIRES / name).read_bytes())
    for fmt in ("questions", "json", "qsf", "decipher", "confirmit", "xlsform"):
        response = await _export(client, tenant, survey, fmt)
        if fmt in ("decipher", "confirmit"):
            ET.fromstring(response.content)
        elif fmt == "xlsform":
            convert(xlsform=io.BytesIO(response.content), file_type=".xlsx", validate=False)
        else:
            json.loads(response.content)


async def test_unknown_format_is_422(client, tenant, programmed):
    response = await client.get(
        f"/v1/surveys/{programmed['id']}/export", params={"format": "sav"}, headers=tenant.headers
    )
    assert response.status_code == 422


async def test_export_of_empty_survey(client, tenant):
    survey = (await client.post("/v1/surveys", headers=tenant.headers, json={"name": "Blank"})).json()
    for fmt in ("questions", "qsf", "decipher", "confirmit", "xlsform"):
        response = await client.get(
            f"/v1/surveys/{survey['id']}/export", params={"format": fmt}, headers=tenant.headers
        )
        assert response.status_code == 200, (fmt, response.text)
