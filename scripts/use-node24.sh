# Source this file (`. scripts/use-node24.sh`): it puts a Node.js >= 22.15 on PATH, which the OpenTelemetry JS SDK
# requires. When the machine's node is older, Node 24 LTS is installed from the npm registry into .toolchain/
# (about 6 s, once) and put first on PATH. npm then runs under that node too, so it resolves current packages.
_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
_node_ok() {
  command -v node >/dev/null 2>&1 && node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=15)?0:1)'
}
if ! _node_ok; then
  if [ ! -x "$_root/.toolchain/node_modules/node/bin/node" ]; then
    echo "use-node24: installing Node.js 24 into .toolchain/ (machine node: $(node --version 2>/dev/null || echo none))" >&2
    npm install --silent --no-save --no-audit --no-fund --prefix "$_root/.toolchain" node@24 >&2 || return 1 2>/dev/null || exit 1
  fi
  export PATH="$_root/.toolchain/node_modules/node/bin:$PATH"
fi
unset -f _node_ok
unset _root
