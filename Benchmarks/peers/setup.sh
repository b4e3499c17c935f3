#!/usr/bin/env bash
# Creates Benchmarks/peers/.venv (gitignored) with the peer libraries of requirements.txt;
# with --torch also PyTorch (requirements-torch.txt, several GB) for torch_sdpa_peer.py.
# Needs python3 with the venv module (Debian: apt-get install -y python3-venv) and access to PyPI.
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  if ! "$python" -m venv .venv; then
    echo "setup.sh: '$python -m venv' failed; on Debian/Ubuntu run: apt-get install -y python3-venv" >&2
    exit 1
  fi
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
if [ "${1:-}" = "--torch" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-torch.txt
  .venv/bin/python -m pip show torch | grep -E '^(Name|Version):'
fi
.venv/bin/python -m pip show simsimd numpy | grep -E '^(Name|Version):'
