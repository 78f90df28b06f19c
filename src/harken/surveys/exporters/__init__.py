"""Survey exports: the neutral question list, the FullSurvey JSON and the platform files."""

from __future__ import annotations

from typing import Any

from harken.surveys.exporters import platforms
from harken.surveys.exporters.questions import export_questions
from harken.surveys.exporters.view import build_view

FORMATS = ("questions", "json", "qsf", "decipher", "confirmit", "xlsform")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export(fmt: str, survey: dict[str, Any]) -> tuple[bytes, str, str]:
    """(body, media type, file name) of one export of a FullSurvey dict."""
    view = build_view(survey)
    slug = survey.get("slug") or "survey"
    if fmt == "questions":
        return platforms.to_json_bytes(export_questions(view)), "application/json", f"{slug}.questions.json"
    if fmt == "json":
        return platforms.to_json_bytes(survey), "application/json", f"{slug}.json"
    if fmt == "qsf":
        return platforms.to_json_bytes(platforms.qsf(view, survey.get("id") or slug)), "application/json", f"{slug}.qsf"
    if fmt == "decipher":
        return platforms.decipher(view, slug), "application/xml", f"{slug}.decipher.xml"
    if fmt == "confirmit":
        return platforms.confirmit(view, slug), "application/xml", f"{slug}.confirmit.xml"
    if fmt == "xlsform":
        return platforms.xlsform(view, slug), XLSX, f"{slug}.xlsx"
    raise ValueError(fmt)
