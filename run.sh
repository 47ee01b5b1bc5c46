#!/usr/bin/env bash
# bankgate's two commands on a fresh machine with Python 3.11+:
#   ./run.sh demo [--json] [...]   set up, then run `bankgate demo` on the embedded default
#   ./run.sh test [pytest args]    set up, start what the tests need, run the whole suite
set -euo pipefail
cd "$(dirname "$0")"

pick_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "bankgate needs Python 3.11 or newer on PATH (or PYTHON=/path/to/python3.11)" >&2
  exit 2
}

setup() {  # a virtualenv in .venv with bankgate and its test tools, re-done when pyproject, setup.py or the C half change
  local stamp=.venv/.bankgate-installed want
  want=$(cat pyproject.toml setup.py src/bankgate/formats/_speedups.pyx src/bankgate/formats/swift/_mt940_speedups.pyx | sha256sum | cut -d" " -f1)
  if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv" >&2
    "$(pick_python)" -m venv .venv
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "== installing bankgate and its dependencies into .venv" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip >&2
    .venv/bin/python -m pip install --quiet -e ".[test]" >&2
    echo "$want" > "$stamp"
  fi
}

command=${1:-}
shift || true
case "$command" in
  demo)
    setup
    exec .venv/bin/bankgate demo "$@"
    ;;
  test)
    setup
    bash scripts/ensure-services.sh
    echo "== ruff" >&2
    .venv/bin/ruff check src tests bench
    echo "== mypy --strict (domain, formats, policy, crypto, audit, recon)" >&2
    .venv/bin/mypy
    # Two processes on the 2-core machines we are measured on; BANKGATE_TEST_WORKERS=0 runs
    # everything in this process (easier to debug one test).
    echo "== pytest (SQLite and PostgreSQL; ${BANKGATE_TEST_WORKERS:-2} workers)" >&2
    exec .venv/bin/pytest -n "${BANKGATE_TEST_WORKERS:-2}" "$@"
    ;;
  *)
    echo "usage: ./run.sh demo [--json] | ./run.sh test [pytest args]" >&2
    exit 2
    ;;
esac
