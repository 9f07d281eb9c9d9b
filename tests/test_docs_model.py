"""docs/model.md's console blocks are tests, like the README's (``test_readme``'s harness):
every ``$ gradcheck ...`` shown is run and its output compared character for character.
Regenerate with ``python -c "import sys; sys.path.insert(0, 'tests'); import test_readme, pathlib;
test_readme.update_readme(pathlib.Path('docs/model.md'))"``."""

from __future__ import annotations

from pathlib import Path

from test_readme import check_readme

DOC = Path(__file__).resolve().parents[1] / "docs" / "model.md"


def test_every_console_block_of_docs_model_runs_as_shown():
    mismatches, blocks, _ = check_readme(DOC.read_text(encoding="utf-8").splitlines())
    assert sum(len(b.commands) for b in blocks) >= 10
    assert not mismatches, "\n\n".join(str(m) for m in mismatches)
