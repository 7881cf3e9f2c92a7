#!/bin/sh
# Runs node with the project's Node.js: the machine's when it is >= 22.15 (the OpenTelemetry SDK needs it), else the
# Node 24 that scripts/use-node24.sh installs into .toolchain/. Without either it stops with one line saying what to
# run. Every npm script and ./load-generator/generate_load go through here, so a new shell with an old node works.
root="$(cd "$(dirname "$0")/.." && pwd)"
ok() {
  "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=15)?0:1)' 2>/dev/null
}
if command -v node >/dev/null 2>&1 && ok node; then
  exec node "$@"
fi
own="$root/.toolchain/node_modules/node/bin/node"
if [ -x "$own" ] && ok "$own"; then
  exec "$own" "$@"
fi
echo "This project needs Node.js >= 22.15 (this shell has $(node --version 2>/dev/null || echo 'no node')): run '. scripts/use-node24.sh' in $root once, then try again." >&2
exit 1
