#!/usr/bin/env bash
# Runs Scripts/mcp-client-check.py (the official Python MCP client against `kestrel mcp`) in a venv
# under .build/ (gitignored), created on first use. KESTREL: the executable to check (default the
# debug build, built first if missing). Extra arguments go to the script (e.g. --transport sdk).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build/mcp-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import mcp, jsonschema' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'mcp==1.30.0' 'jsonschema==4.26.0'
fi
kestrel=${KESTREL:-.build/debug/kestrel}
[ -x "$kestrel" ] || swift build --product kestrel
exec "$venv/bin/python" Scripts/mcp-client-check.py "$kestrel" "$@"
