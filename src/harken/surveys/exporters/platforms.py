"""Platform files: Qualtrics QSF, Decipher XML, Confirmit/Forsta XML and an XLSForm workbook."""

from __future__ import annotations

import html
import io
import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from harken.surveys.exporters import logic
from harken.surveys.exporters.view import QuestionView, SurveyView


def _html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


# --- Qualtrics QSF ------------------------------------------------------------------------------------


def qsf(view: SurveyView, survey_id: str) -> dict[str, Any]:
    sid = "SV_" + re.sub(r"[^A-Za-z0-9]", "", survey_id)[:15]
    qids = {q.label: f"QID{i + 1}" for i, q in enumerate(view.questions)}
    elements: list[dict[str, Any]] = []
    block_elements: list[dict[str, Any]] = []
    last_page = None
    for q in view.questions:
        if last_page is not None and q.page_index != last_page:
            block_elements.append({"Type": "Page Break"})
        last_page = q.page_index
        qid = qids[q.label]
        block_elements.append({"Type": "Question", "QuestionID": qid})
        elements.append(
            {
                "SurveyID": sid,
                "Element": "SQ",
                "PrimaryAttribute": qid,
                "SecondaryAttribute": q.text[:100],
                "TertiaryAttribute": None,
                "Payload": _qsf_question(view, q, qid, qids),
            }
        )
    flow: list[dict[str, Any]] = [{"Type": "Block", "ID": "BL_1", "FlowID": "FL_2"}]
    terminates = [(q, expr) for q in view.questions for expr in q.terminate_if]
    for n, (q, expr) in enumerate(terminates):
        display = logic.qualtrics_display_logic(view, expr, qids)
        if display:
            flow.append(
                {
                    "Type": "Branch",
                    "FlowID": f"FL_{n + 3}",
                    "Description": f"Terminate at {q.label}",
                    "BranchLogic": display,
                    "Flow": [{"Type": "EndSurvey", "FlowID": f"FL_{n + 3}_end"}],
                }
            )
    survey_elements = [
        {
            "SurveyID": sid,
            "Element": "BL",
            "PrimaryAttribute": "Survey Blocks",
            "SecondaryAttribute": None,
            "TertiaryAttribute": None,
            "Payload": [
                {
                    "Type": "Default",
                    "Description": "Default Question Block",
                    "ID": "BL_1",
                    "BlockElements": block_elements,
                }
            ],
        },
        {
            "SurveyID": sid,
            "Element": "FL",
            "PrimaryAttribute": "Survey Flow",
            "SecondaryAttribute": None,
            "TertiaryAttribute": None,
            "Payload": {"Type": "Root", "FlowID": "FL_1", "Flow": flow, "Properties": {"Count": len(flow) + 1}},
        },
        {
            "SurveyID": sid,
            "Element": "QC",
            "PrimaryAttribute": "Survey Question Count",
            "SecondaryAttribute": str(len(view.questions)),
            "TertiaryAttribute": None,
            "Payload": None,
        },
        *elements,
    ]
    return {
        "SurveyEntry": {
            "SurveyID": sid,
            "SurveyName": view.title,
            "SurveyDescription": None,
            "SurveyOwnerID": "UR_harken",
            "SurveyBrandID": "harken",
            "DivisionID": None,
            "SurveyLanguage": view.language_code.upper()[:2],
            "SurveyActiveResponseSet": "RS_1",
            "SurveyStatus": "Inactive",
        },
        "SurveyElements": survey_elements,
    }


def _qsf_choices(choices: list[Any]) -> tuple[dict[str, Any], list[str]]:
    out: dict[str, Any] = {}
    order: list[str] = []
    for i, c in enumerate(choices):
        key = str(i + 1)
        entry: dict[str, Any] = {"Display": c.label}
        if getattr(c, "exclusive", False):
            entry["ExclusiveAnswer"] = True
        if getattr(c, "open", False):
            entry["TextEntry"] = "true"
        out[key] = entry
        order.append(key)
    return out, order


def _qsf_question(view: SurveyView, q: QuestionView, qid: str, qids: dict[str, str]) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "QuestionText": _html(q.text),
        "DataExportTag": q.label,
        "QuestionDescription": q.text[:100],
        "Configuration": {"QuestionDescriptionOption": "UseText"},
        "Validation": {"Settings": {"ForceResponse": "OFF", "ForceResponseType": "ON", "Type": "None"}},
        "Language": [],
        "QuestionID": qid,
    }
    choices = q.choices
    if q.kind == "text":
        payload.update(QuestionType="DB", Selector="TB")
    elif q.kind in ("single", "multi", "dropdown", "scale"):
        selector = {"single": "SAVR", "multi": "MAVR", "dropdown": "DL", "scale": "SAHR"}[q.kind]
        payload.update(QuestionType="MC", Selector=selector, SubSelector="TX")
        payload["Choices"], payload["ChoiceOrder"] = _qsf_choices(choices)
        payload["NextChoiceId"] = len(choices) + 1
    elif q.kind in ("grid_single", "grid_multi"):
        payload.update(
            QuestionType="Matrix",
            Selector="Likert",
            SubSelector="MultipleAnswer" if q.kind == "grid_multi" else "SingleAnswer",
        )
        payload["Choices"], payload["ChoiceOrder"] = _qsf_choices(q.rows)
        payload["Answers"], payload["AnswerOrder"] = _qsf_choices(q.columns)
        payload["NextChoiceId"], payload["NextAnswerId"] = len(q.rows) + 1, len(q.columns) + 1
    elif q.kind == "rank":
        payload.update(QuestionType="RO", Selector="DND", SubSelector="TX")
        payload["Choices"], payload["ChoiceOrder"] = _qsf_choices(choices)
    elif q.kind == "numeric":
        payload.update(QuestionType="TE", Selector="SL")
        number: dict[str, Any] = {"NumDecimals": "0"}
        if q.min is not None:
            number["Min"] = str(q.min)
        if q.max is not None:
            number["Max"] = str(q.max)
        payload["Validation"] = {
            "Settings": {
                "ForceResponse": "OFF",
                "ContentType": "ValidNumber",
                "ValidNumber": number,
                "Type": "ContentValidation",
            }
        }
    else:
        payload.update(QuestionType="TE", Selector="ML")
    if q.randomize and payload.get("Choices"):
        payload["Randomization"] = {"Type": "All", "Advanced": None, "TotalRandSubset": ""}
    display = logic.qualtrics_display_logic(view, q.show_if, qids)
    if display:
        payload["DisplayLogic"] = display
    elif q.show_if:
        payload["DisplayLogicNote"] = q.show_if
    return payload


# --- Decipher -------------------------------------------------------------------------------------------


def decipher(view: SurveyView, name: str) -> bytes:
    root = ET.Element("survey", {"name": name, "alt": view.title, "compat": "153", "state": "testing", "autosave": "0"})
    last_page = None
    for q in view.questions:
        if last_page is not None and q.page_index != last_page:
            ET.SubElement(root, "suspend")
        last_page = q.page_index
        _decipher_question(root, view, q)
        for n, expr in enumerate(q.terminate_if):
            cond = logic.decipher(view, expr)
            if cond:
                term = ET.SubElement(root, "term", {"label": f"term_{logic.ident(q.label)}_{n + 1}", "cond": cond})
                term.text = f"Terminated at {q.label}"
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def _decipher_question(root: ET.Element, view: SurveyView, q: QuestionView) -> None:
    attrs: dict[str, str] = {"label": logic.ident(q.label)}
    cond = logic.decipher(view, q.show_if)
    if cond:
        attrs["cond"] = cond
    tag = {
        "single": "radio",
        "multi": "checkbox",
        "dropdown": "select",
        "scale": "radio",
        "grid_single": "radio",
        "grid_multi": "checkbox",
        "numeric": "number",
        "open": "textarea",
        "rank": "select",
        "text": "html",
    }[q.kind]
    if q.kind == "text":
        attrs["where"] = "survey"
        el = ET.SubElement(root, tag, attrs)
        el.text = _html(q.text)
        return
    if q.kind == "rank":
        attrs.update(uses="ranksort.7", minRanks=str(len(q.choices)), unique="1")
    if q.kind == "numeric":
        attrs["size"] = str(max(3, len(str(int(q.max))) if q.max is not None else 6))
        if q.min is not None and q.max is not None:
            attrs["verify"] = f"range({q.min},{q.max})"
    if q.kind in ("multi", "grid_multi"):
        attrs["atleast"] = "1"
    else:
        attrs["optional"] = "1" if q.kind in ("open",) else "0"
    if q.randomize and q.kind not in ("grid_single", "grid_multi"):
        attrs["shuffle"] = "rows"
    el = ET.SubElement(root, tag, attrs)
    ET.SubElement(el, "title").text = q.text
    if q.kind in ("grid_single", "grid_multi"):
        for c in q.columns:
            col = ET.SubElement(el, "col", {"label": f"c{c.value}", **({"exclusive": "1"} if c.exclusive else {})})
            col.text = c.label
        for r in q.rows:
            ET.SubElement(el, "row", {"label": f"r{r.value}"}).text = r.label
    elif q.kind == "scale":
        for c in q.choices:
            ET.SubElement(el, "row", {"label": f"r{c.value}", "value": c.value}).text = c.label
    elif q.kind in ("single", "multi"):
        for c in q.choices:
            cell: dict[str, str] = {"label": f"r{c.value}"}
            if c.exclusive:
                cell["exclusive"] = "1"
            if c.open:
                cell["open"] = "1"
                cell["openSize"] = "25"
            if c.pinned and q.randomize:
                cell["randomize"] = "0"
            ET.SubElement(el, "row", cell).text = c.label
    elif q.kind in ("dropdown", "rank"):
        for c in q.choices:
            ET.SubElement(el, "choice", {"label": f"ch{c.value}"}).text = c.label


# --- Confirmit / Forsta ---------------------------------------------------------------------------------


def confirmit(view: SurveyView, name: str) -> bytes:
    root = ET.Element("Survey", {"Name": name, "Title": view.title, "Language": view.language_code})
    routing = ET.SubElement(root, "Routing")
    nodes = ET.SubElement(routing, "Nodes")
    last_page = None
    for q in view.questions:
        if last_page is not None and q.page_index != last_page:
            ET.SubElement(nodes, "PageBreak")
        last_page = q.page_index
        parent = nodes
        cond = logic.confirmit(view, q.show_if)
        if cond:
            condition = ET.SubElement(nodes, "Condition", {"Name": f"if_{q.label}", "Expression": cond})
            parent = ET.SubElement(condition, "TrueNodes")
        _confirmit_question(parent, q)
        for n, expr in enumerate(q.terminate_if):
            term = logic.confirmit(view, expr)
            if term:
                condition = ET.SubElement(nodes, "Condition", {"Name": f"term_{q.label}_{n + 1}", "Expression": term})
                true_nodes = ET.SubElement(condition, "TrueNodes")
                ET.SubElement(true_nodes, "Stop", {"Name": f"stop_{q.label}_{n + 1}", "Status": "screened"})
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def _confirmit_answers(parent: ET.Element, choices: list[Any], tag: str = "Answers", randomize: bool = False) -> None:
    answers = ET.SubElement(parent, tag, {"AnswerlistOrder": "Randomize"} if randomize else {})
    for c in choices:
        attrs = {"Precode": str(c.value)}
        if getattr(c, "exclusive", False):
            attrs["IsExclusive"] = "true"
        if getattr(c, "open", False):
            attrs["IsOther"] = "true"
        if randomize and getattr(c, "pinned", False):
            attrs["KeepPosition"] = "true"
        answer = ET.SubElement(answers, "Answer", attrs)
        ET.SubElement(answer, "Text").text = c.label


def _confirmit_question(parent: ET.Element, q: QuestionView) -> None:
    tag = {
        "single": "Single",
        "dropdown": "Single",
        "scale": "Single",
        "multi": "Multi",
        "rank": "Multi",
        "grid_single": "Grid",
        "grid_multi": "Grid3D",
        "numeric": "Open",
        "open": "Open",
        "text": "Info",
    }[q.kind]
    attrs = {"Name": q.label}
    if q.kind == "dropdown":
        attrs["Layout"] = "Dropdown"
    if q.kind == "rank":
        attrs["RankType"] = "true"
    if q.kind == "numeric":
        attrs["NumericType"] = "Integer"
        if q.min is not None:
            attrs["Min"] = str(q.min)
        if q.max is not None:
            attrs["Max"] = str(q.max)
    el = ET.SubElement(parent, tag, attrs)
    ET.SubElement(el, "Text").text = q.text
    if q.kind in ("single", "multi", "dropdown", "scale", "rank"):
        _confirmit_answers(el, q.choices, randomize=q.randomize)
    elif q.kind == "grid_single":
        statements = ET.SubElement(el, "Nodes")
        for r in q.rows:
            node = ET.SubElement(statements, "Statement", {"Precode": str(r.value)})
            ET.SubElement(node, "Text").text = r.label
        _confirmit_answers(el, q.columns)
    elif q.kind == "grid_multi":
        statements = ET.SubElement(el, "Nodes")
        for r in q.rows:
            multi = ET.SubElement(statements, "Multi", {"Name": f"{q.label}_{r.value}"})
            ET.SubElement(multi, "Text").text = r.label
        _confirmit_answers(el, q.columns, tag="Grid3DAnswers")


# --- XLSForm --------------------------------------------------------------------------------------------


def _xml_name(label: str, used: set[str]) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", label) or "q"
    if not re.match(r"[A-Za-z_]", name):
        name = "q_" + name
    base, n = name, 1
    while name in used:
        n += 1
        name = f"{base}_{n}"
    used.add(name)
    return name


def _choice_name(value: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", value)
    return name or "x"


def xlsform(view: SurveyView, form_id: str) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    survey = workbook.active
    survey.title = "survey"
    survey.append(
        [
            "type",
            "name",
            "label",
            "hint",
            "relevant",
            "constraint",
            "constraint_message",
            "appearance",
            "parameters",
            "required",
        ]
    )
    choices = workbook.create_sheet("choices")
    choices.append(["list_name", "name", "label"])
    settings = workbook.create_sheet("settings")
    settings.append(["form_title", "form_id", "version", "default_language"])
    settings.append([view.title or form_id, _choice_name(form_id)[:60] or "survey", "1", "English (en)"])
    used: set[str] = set()
    names = {q.label: _xml_name(q.label, used) for q in view.questions}

    def relevant(q: QuestionView) -> str:
        expr = logic.xlsform(view, q.show_if) or ""
        for label, name in names.items():
            expr = expr.replace("${" + label + "}", "${" + name + "}")
        return expr

    def add_list(list_name: str, items: list[Any]) -> None:
        seen: set[str] = set()
        for c in items:
            value = _choice_name(str(c.value))
            if value in seen:
                continue
            seen.add(value)
            choices.append([list_name, value, c.label])

    terminated: list[str] = []
    for q in view.questions:
        name = names[q.label]
        rel = relevant(q)
        if terminated:
            guard = " and ".join(f"not({t})" for t in terminated)
            rel = f"({rel}) and {guard}" if rel else guard
        list_name = f"{name}_list"
        if q.kind == "text":
            survey.append(["note", name, q.text, None, rel or None])
        elif q.kind in ("single", "dropdown", "scale"):
            add_list(list_name, q.choices)
            appearance = "minimal" if q.kind == "dropdown" else ("horizontal-compact" if q.kind == "scale" else None)
            survey.append([f"select_one {list_name}", name, q.text, None, rel or None, None, None, appearance])
        elif q.kind == "multi":
            add_list(list_name, q.choices)
            exclusive = [c for c in q.choices if c.exclusive]
            constraint = None
            if exclusive:
                parts = [f"not(selected(., '{_choice_name(c.value)}') and count-selected(.) > 1)" for c in exclusive]
                constraint = " and ".join(parts)
            survey.append(
                [
                    f"select_multiple {list_name}",
                    name,
                    q.text,
                    None,
                    rel or None,
                    constraint,
                    "This answer cannot be combined with others" if constraint else None,
                ]
            )
        elif q.kind == "rank":
            add_list(list_name, q.choices)
            survey.append([f"rank {list_name}", name, q.text, None, rel or None])
        elif q.kind in ("grid_single", "grid_multi"):
            add_list(list_name, q.columns)
            survey.append(["begin_group", name, q.text, None, rel or None, None, None, "field-list"])
            kind = "select_one" if q.kind == "grid_single" else "select_multiple"
            survey.append([f"{kind} {list_name}", f"{name}_label", q.text, None, None, None, None, "label"])
            for r in q.rows:
                row_name = _xml_name(f"{name}_{_choice_name(r.value)}", used)
                survey.append([f"{kind} {list_name}", row_name, r.label, None, None, None, None, "list-nolabel"])
            survey.append(["end_group", None, None])
        elif q.kind == "numeric":
            parts = []
            if q.min is not None:
                parts.append(f". >= {q.min}")
            if q.max is not None:
                parts.append(f". <= {q.max}")
            survey.append(
                [
                    "integer",
                    name,
                    q.text,
                    None,
                    rel or None,
                    " and ".join(parts) or None,
                    f"Enter a number from {q.min} to {q.max}" if parts else None,
                ]
            )
        else:
            survey.append(["text", name, q.text, None, rel or None, None, None, "multiline"])
        for expr in q.terminate_if:
            cond = logic.xlsform(view, expr)
            if cond:
                for label, other in names.items():
                    cond = cond.replace("${" + label + "}", "${" + other + "}")
                terminated.append(cond)
                survey.append(
                    [
                        "note",
                        _xml_name(f"{name}_terminate", used),
                        "Thank you for your time. Unfortunately you do not qualify for this survey.",
                        None,
                        cond,
                    ]
                )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def to_json_bytes(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str).encode("utf-8")
