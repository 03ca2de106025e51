#!/bin/sh
# Re-render the print version of the architecture diagram from its Graphviz source (Debian: apt-get install graphviz).
# Commit architecture.dot, architecture.svg and architecture.png together.
set -eu
cd "$(dirname "$0")"
command -v dot >/dev/null || { echo "render.sh: Graphviz 'dot' not found (apt-get install graphviz)" >&2; exit 1; }
dot -Tsvg architecture.dot -o architecture.svg
dot -Tpng -Gdpi=110 architecture.dot -o architecture.png
echo "rendered architecture.svg and architecture.png from architecture.dot"
