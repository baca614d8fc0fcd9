# Shared by scripts/run and scripts/test: create .venv if missing and install the project when it changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
EXTRAS="${1:-dev}"
STAMP=".venv/.installed-$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)-$EXTRAS"
if [ ! -f "$STAMP" ]; then
  echo "installing dependencies into .venv ..."
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[$EXTRAS]"
  rm -f .venv/.installed-*
  touch "$STAMP"
fi
