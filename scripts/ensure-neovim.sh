#!/usr/bin/env bash
# Installs Neovim (the second real LSP client of the test suite, test/neovim.test.ts) when it is
# missing, the way scripts/e2e.sh installs what the code-server suite needs: from Debian's apt
# repositories, as root. Not root and no Neovim: say so and go on (the test then reports a skip).
set -euo pipefail
if command -v nvim >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "test: Neovim is not installed and this is not root; the Neovim test will be skipped (apt-get install neovim)" >&2
  exit 0
fi
echo "test: apt-get install neovim" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 -qq update
apt-get -o DPkg::Lock::Timeout=300 -qq install -y neovim >/dev/null
