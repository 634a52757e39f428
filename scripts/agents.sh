#!/usr/bin/env bash
# Installs the agent CLIs the real-agent tests drive (tests/real_agents.rs,
# runner/tests/provider_contract.rs) into a repo-local prefix, target/agent-clis, from the npm
# registry, at the versions runner/Dockerfile pins. Idempotent: a prefix that already holds
# these versions is left alone, so a second run takes well under a second.
#
#   scripts/agents.sh        prints the directory holding the `codex` and `claude` programs
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dockerfile="$root/runner/Dockerfile"
prefix="$root/target/agent-clis"

# The pins live in one place: the runner image.
pin() {
  sed -n "s/^ARG $1=\(.*\)$/\1/p" "$dockerfile" | head -n 1
}
codex_version=$(pin CODEX_VERSION)
claude_version=$(pin CLAUDE_CODE_VERSION)
if [[ -z "$codex_version" || -z "$claude_version" ]]; then
  echo "scripts/agents.sh: cannot read the CLI pins from $dockerfile" >&2
  exit 1
fi
packages=("@openai/codex@$codex_version" "@anthropic-ai/claude-code@$claude_version")
stamp="$prefix/.installed"
want="${packages[*]}"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$prefix/bin/codex" && -x "$prefix/bin/claude" ]]; then
  echo "$prefix/bin"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "scripts/agents.sh: npm is missing; install Node.js (20 or later) to get the agent CLIs" >&2
  exit 1
fi
echo "scripts/agents.sh: installing ${packages[*]} into $prefix" >&2
mkdir -p "$prefix"
npm install --global --prefix "$prefix" --omit=dev --no-audit --no-fund --loglevel=error \
  "${packages[@]}" >&2
for program in codex claude; do
  [[ -x "$prefix/bin/$program" ]] || { echo "scripts/agents.sh: $program missing after the install" >&2; exit 1; }
done
echo "$want" >"$stamp"
echo "$prefix/bin"
