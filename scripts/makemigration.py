"""Autogenerate an Alembic revision for one domain's branch.

    python scripts/makemigration.py webhooks "endpoints and deliveries"

The first revision of a domain starts its branch (rooted at core); later ones extend it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from harken.core.migrate import MIGRATIONS_DIR, alembic_config, upgrade


def main() -> None:
    domain, message = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'gen.db'}"
        upgrade(url)
        config = alembic_config(url)
        script = ScriptDirectory.from_config(config)
        existing = [r for r in script.walk_revisions() if r.branch_labels and domain in r.branch_labels]
        count = sum(1 for r in script.walk_revisions() if r.revision.startswith(f"{domain}_"))
        rev_id = f"{domain}_{count + 1:04d}"
        if existing or count:
            command.revision(config, message=message, autogenerate=True, rev_id=rev_id, head=f"{domain}@head")
        else:
            command.revision(config, message=message, autogenerate=True, rev_id=rev_id, branch_label=domain,
                             head="core_0001", splice=True)
    for path in MIGRATIONS_DIR.joinpath("versions").glob(f"{rev_id}_*.py"):
        path.write_text(path.read_text().replace("astext_type=Text()", "astext_type=sa.Text()"))
        subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(path)], check=False)
        subprocess.run([sys.executable, "-m", "ruff", "check", "--fix", "-q", str(path)], check=False)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
