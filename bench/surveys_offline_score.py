"""Offline check of the programmer on the labelled questionnaires (no server): prints the scorer's figures.

.venv/bin/python bench/surveys_offline_score.py [DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent / "shared" / "tools"))

from score_questionnaire import MIME, score_file  # noqa: E402

from harken.surveys.exporters.questions import export_questions  # noqa: E402
from harken.surveys.exporters.view import build_view  # noqa: E402
from harken.surveys.files import sniff  # noqa: E402
from harken.surveys.parsing.build import build_ir  # noqa: E402
from harken.surveys.parsing.extract import extract  # noqa: E402
from harken.surveys.parsing.programmer import program  # noqa: E402


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "questionnaires"
    verbose = "-v" in sys.argv
    for exp in sorted(folder.glob("*.expected.json")):
        stem = exp.name[: -len(".expected.json")]
        files = [p for p in folder.glob(stem + ".*") if p.suffix in MIME]
        data = files[0].read_bytes()
        mime = sniff(data, files[0].name)
        ir = build_ir(program(extract(data, mime)))
        got = export_questions(build_view({"name": stem, **ir}))
        r = score_file(json.loads(exp.read_text()), got)
        print(files[0].name, {k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()})
        if verbose:
            for q in got["questions"]:
                print("   ", json.dumps(q)[:300])


if __name__ == "__main__":
    main()
