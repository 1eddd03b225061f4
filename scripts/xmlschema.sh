#!/usr/bin/env bash
# Installs the XSD validator the invoice tests call (Python's xmlschema, pinned) into the same
# .venv that scripts/moto.sh creates. The tests run `.venv/bin/python -c 'import xmlschema …'`
# against the official FA(3) schema set in shared/invoices/schema/fa3.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
XMLSCHEMA_VERSION=4.1.0
if [[ ! -x "$venv/bin/python" ]]; then
    echo "xmlschema.sh: creating $venv" >&2
    python3 -m venv "$venv"
fi
have="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("xmlschema"))' 2>/dev/null || true)"
if [[ "$have" != "$XMLSCHEMA_VERSION" ]]; then
    echo "xmlschema.sh: installing xmlschema==$XMLSCHEMA_VERSION into $venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "xmlschema==$XMLSCHEMA_VERSION"
fi
