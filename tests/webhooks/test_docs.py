"""The verification snippets published in docs/webhooks.md really verify Harken's test vectors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.webhooks.test_signing import BODY, MSG_ID, OLD_SECRET, ONTORA_SIG, SECRET, STANDARD_SIG, TIMESTAMP

DOC = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()


def block(language: str, index: int = 0) -> str:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.S)[index]


def test_vectors_in_the_docs_match_the_tests() -> None:
    for value in (SECRET, OLD_SECRET, MSG_ID, str(TIMESTAMP), BODY.decode(), ONTORA_SIG, STANDARD_SIG):
        assert value in DOC


def test_standalone_python_snippet() -> None:
    namespace: dict[str, Any] = {}
    exec(block("python", 1), namespace)  # noqa: S102 - our own documentation
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP), "webhook-signature": STANDARD_SIG}
    assert namespace["verify"](BODY, headers, SECRET, tolerance=10**10)
    assert not namespace["verify"](BODY + b" ", headers, SECRET, tolerance=10**10)
    assert namespace["verify_ontora"](BODY, ONTORA_SIG, SECRET)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_node_snippet() -> None:
    script = block("js") + (
        f"\nconst body = Buffer.from({json.dumps(BODY.decode())});"
        f"\nconst h = {{'webhook-id': {json.dumps(MSG_ID)}, 'webhook-timestamp': '{TIMESTAMP}',"
        f" 'webhook-signature': {json.dumps(STANDARD_SIG)}}};"
        f"\nconsole.log(JSON.stringify([verify(body, h, {json.dumps(SECRET)}, 1e10),"
        f" verify(Buffer.concat([body, Buffer.from(' ')]), h, {json.dumps(SECRET)}, 1e10)]));"
    )
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30, check=True)
    assert json.loads(out.stdout) == [True, False]
