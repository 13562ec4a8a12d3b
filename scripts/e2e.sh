#!/usr/bin/env bash
# `npm run test:e2e`: LeakLens in a real VS Code (code-server + headless Chromium).
#  1. installs what is missing: Debian's chromium, libkrb5-dev (code-server's kerberos module
#     builds from source) and ripgrep (apt, as root; `apt-get update` only when something is
#     missing), and code-server into its own folder outside this project's dependency tree,
#     reused once complete;
#  2. packages leaklens.vsix (`npm run package`, in the background while step 1 runs);
#  3. runs test/e2e/*.e2e.ts (compiled to out/test/e2e/) with node's test runner.
# /work/shared/recipes/vscode-e2e.md explains each step. Environment:
#   LEAKLENS_E2E_HOME        where code-server is installed
#                            (default ~/.cache/leaklens-e2e/code-server-<version>)
#   LEAKLENS_E2E_VSIX        the .vsix to test (default ./leaklens.vsix)
#   LEAKLENS_E2E_SKIP_BUILD  1 = test out/ and the .vsix as they are (no `npm run package`)
#   LEAKLENS_E2E_KEEP        1 = keep the whole run folder even when every test passes
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CODE_SERVER_VERSION=4.100.3 # VS Code 1.100.3, the newest whose engines accept Node 20
RIPGREP_CACHE=vscode-ripgrep-cache-1.15.11
RIPGREP_ARCHIVE=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz
export LEAKLENS_E2E_HOME="${LEAKLENS_E2E_HOME:-${HOME:-/root}/.cache/leaklens-e2e/code-server-$CODE_SERVER_VERSION}"
export LEAKLENS_E2E_VSIX="${LEAKLENS_E2E_VSIX:-$ROOT/leaklens.vsix}"
CODE_SERVER="$LEAKLENS_E2E_HOME/node_modules/.bin/code-server"

T0=$(date +%s)
step() { echo "[e2e $(($(date +%s) - T0))s] $*"; }
scratch=$(mktemp -d -t leaklens-e2e-setup-XXXXXX) # logs of the background steps, install temp files
cleanup() {
  # Background jobs are waited for, never killed: an interrupted apt-get leaves dpkg half-configured.
  wait 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT

# Background jobs: `start_job NAME COMMAND...`; `finish_job NAME` waits for it and prints its log if it failed.
declare -A job
start_job() {
  local name=$1; shift
  "$@" >"$scratch/$name.log" 2>&1 &
  job[$name]=$!
}
finish_job() {
  if ! wait "${job[$1]}"; then
    tail -60 "$scratch/$1.log" >&2
    echo "e2e: $1 failed (log above)" >&2
    exit 1
  fi
}

if ! node -e "require.resolve('playwright-core')" 2>/dev/null; then
  echo "e2e: playwright-core is not installed: run npm ci (or npm install)" >&2
  exit 1
fi

# --- 2. the .vsix, built while the rest installs ------------------------------------------------
if [ "${LEAKLENS_E2E_SKIP_BUILD:-}" = 1 ] && [ -f "$LEAKLENS_E2E_VSIX" ]; then
  step "testing $LEAKLENS_E2E_VSIX and out/ as they are"
  packaging=false
else
  step "npm run package (in the background)"
  start_job package npm run package
  packaging=true
fi

# --- 1a. Debian packages ---------------------------------------------------------------------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
missing=()
for pkg in chromium libkrb5-dev ripgrep; do installed "$pkg" || missing+=("$pkg"); done
need_code_server=false
[ -f "$LEAKLENS_E2E_HOME/.complete" ] && [ -x "$CODE_SERVER" ] || need_code_server=true
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -qq "$@"; }
chromium_in_background=false
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "e2e: missing Debian packages: ${missing[*]} (run as root, or: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  step "apt-get update; apt-get install ${missing[*]}"
  apt_get update
  first=()
  for pkg in "${missing[@]}"; do
    # Chromium (the big one) installs while code-server does, unless there is nothing to overlap.
    if [ "$pkg" = chromium ] && $need_code_server; then chromium_in_background=true; else first+=("$pkg"); fi
  done
  ((${#first[@]} == 0)) || apt_get install -y "${first[@]}" >/dev/null
  if $chromium_in_background; then start_job chromium apt_get install -y chromium; fi
fi

# --- 1b. code-server, outside the project's node_modules ----------------------------------------
# One install at a time per folder (two runs may start together); re-check under the lock.
mkdir -p "$(dirname "$LEAKLENS_E2E_HOME")"
exec 9>"$LEAKLENS_E2E_HOME.lock"
flock 9
[ -f "$LEAKLENS_E2E_HOME/.complete" ] && [ -x "$CODE_SERVER" ] && need_code_server=false
if $need_code_server; then
  step "installing code-server@$CODE_SERVER_VERSION into $LEAKLENS_E2E_HOME (1-2 minutes)"
  rm -rf "$LEAKLENS_E2E_HOME"
  mkdir -p "$LEAKLENS_E2E_HOME" "$scratch/tmp/$RIPGREP_CACHE"
  # @vscode/ripgrep would download rg from GitHub (unreachable here); it first looks for a cached
  # download in $TMPDIR, so seed that cache from Debian's binary.
  tar czf "$scratch/tmp/$RIPGREP_CACHE/$RIPGREP_ARCHIVE" -C /usr/bin rg
  log="$LEAKLENS_E2E_HOME.install.log"
  # unsafe_perm: code-server's postinstall refuses root otherwise; yes: node-pty's postinstall
  # runs `npx node-gyp`, which npm would otherwise cancel. Run from the prefix folder, without the
  # npm_* variables that `npm run` exported for this project.
  if ! (cd "$LEAKLENS_E2E_HOME" && env $(env | grep -o '^npm_[a-zA-Z_]*' | sed 's/^/-u /') \
      TMPDIR="$scratch/tmp" npm_config_unsafe_perm=true npm_config_yes=true \
      npm install --foreground-scripts --no-audit --no-fund --no-save --prefix "$LEAKLENS_E2E_HOME" \
      "code-server@$CODE_SERVER_VERSION") >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "e2e: installing code-server failed; full log: $log" >&2
    exit 1
  fi
  grep -q 'Using cached download' "$log" || echo "e2e: warning: the ripgrep cache was not used (see $log)" >&2
  "$CODE_SERVER" --version >/dev/null
  touch "$LEAKLENS_E2E_HOME/.complete"
fi
flock -u 9

if $chromium_in_background; then
  step "waiting for apt-get install chromium"
  finish_job chromium
fi
if $packaging; then
  step "waiting for npm run package"
  finish_job package
fi
CHROMIUM=$(command -v chromium)
step "code-server $("$CODE_SERVER" --version | head -1 | cut -d' ' -f1), $("$CHROMIUM" --version 2>/dev/null)"

# --- 3. the tests -------------------------------------------------------------------------------
shopt -s nullglob
files=(out/test/e2e/*.e2e.js)
((${#files[@]})) || { echo "e2e: no compiled tests in out/test/e2e/ (npm run build)" >&2; exit 1; }
step "node --test ${files[*]}"
status=0
LEAKLENS_E2E=1 LEAKLENS_E2E_CODE_SERVER="$CODE_SERVER" LEAKLENS_E2E_CHROMIUM="$CHROMIUM" \
  node --test --test-reporter=spec "${files[@]}" || status=$?
step "done (exit $status)"
exit $status
