#!/usr/bin/env bash
# The development corpus: real third-party Python that LeakLens was never tuned on before
# issue 12, taken from Debian packages (issue 12 fixes the list; do not add to it: tuning stays
# on this corpus and the standard library so that held-out measurements stay honest).
#
#   scripts/corpus/fetch.sh            fetch what is missing, then print what the cache holds
#   scripts/corpus/fetch.sh --list     only print what the cache holds
#
# Each listed package is fetched alone with `apt-get download` (no dependencies) and unpacked
# with `dpkg-deb -x` in a scratch folder; only its own top-level Python packages and modules
# (the entries of usr/lib/python3/dist-packages, without *.dist-info / *.egg-info) are copied,
# and of those only the .py and .pyi files. Two listed packages are empty shells around another
# binary package built from the same Debian source (mercurial -> mercurial-common,
# python3-buildbot -> buildbot): when a package has no Python files of its own, its direct
# dependencies from the same source package are taken in its place, and nothing else.
#
# The cache lives outside the repository: ${LEAKLENS_CORPUS:-$HOME/.cache/leaklens-corpus}
#   debs/                 the downloaded .deb files
#   src/<package>/        the copied Python packages of each listed package
#   src/<package>/.stamp  the .deb files it came from (present = done; delete to redo)
#   manifest.tsv          package, the .deb(s) it came from, top-level names, files, lines
# Needs apt-get and dpkg-deb (Debian/Ubuntu); run `apt-get update` first on a fresh machine.
# Not part of `npm ci` or `npm test`: only the accuracy harness (`npm run accuracy`) reads it.
set -euo pipefail

PACKAGES=(
  python3-django python3-twisted python3-sqlalchemy python3-paramiko python3-scrapy
  python3-celery python3-kombu python3-sphinx python3-babel python3-dulwich
  python3-matplotlib python3-pandas python3-psycopg2 python3-pymysql python3-zmq
  python3-httpx python3-gunicorn python3-distributed python3-dask ansible-core
  python3-buildbot mercurial python3-swift
)

CACHE="${LEAKLENS_CORPUS:-$HOME/.cache/leaklens-corpus}"
DEBS="$CACHE/debs"
SRC="$CACHE/src"
SITE="usr/lib/python3/dist-packages"
mkdir -p "$DEBS" "$SRC"

case "$(realpath -m "$CACHE")/" in
  "$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null || echo /nonexistent)"/*)
    echo "fetch.sh: the cache ($CACHE) must be outside the repository" >&2; exit 2 ;;
esac

only_list=0
[[ "${1:-}" == "--list" ]] && only_list=1

# The .deb of one binary package, downloaded once (apt-get writes into the current folder).
deb_of() {
  local name="$1" found
  found=$(compgen -G "$DEBS/${name}_*.deb" | head -n1 || true)
  if [[ -z "$found" ]]; then
    (cd "$DEBS" && apt-get download "$name" >/dev/null 2>&1) || {
      echo "fetch.sh: apt-get download $name failed (run apt-get update?)" >&2; return 1; }
    found=$(compgen -G "$DEBS/${name}_*.deb" | head -n1)
  fi
  echo "$found"
}

# (the listing is read whole: grep -q would close the pipe early and dpkg-deb would complain)
has_python() { dpkg-deb -c "$1" | awk '{print $6}' | grep -E "^\./$SITE/.*\.pyi?$" >/dev/null; }

# Binary packages built from the same source that $1 (a .deb) depends on directly.
same_source_deps() {
  local deb="$1" src dep
  src=$(dpkg-deb -f "$deb" Source | awk '{print $1}')
  [[ -n "$src" ]] || src=$(dpkg-deb -f "$deb" Package)
  dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -E 's/\(.*\)//; s/\|.*//; s/:any//; s/ //g' | while read -r dep; do
    [[ -n "$dep" ]] || continue
    local dsrc
    dsrc=$(apt-cache show --no-all-versions "$dep" 2>/dev/null | awk '/^Source:/{print $2; exit}')
    [[ -n "$dsrc" ]] || dsrc="$dep"
    [[ "$dsrc" == "$src" ]] && echo "$dep"
  done
  return 0
}

fetch_one() {
  local pkg="$1" dest="$SRC/$pkg"
  [[ -f "$dest/.stamp" ]] && return 0
  local deb debs=()
  deb=$(deb_of "$pkg")
  if has_python "$deb"; then
    debs=("$deb")
  else
    local dep
    for dep in $(same_source_deps "$deb"); do
      local d; d=$(deb_of "$dep")
      has_python "$d" && debs+=("$d")
    done
    [[ ${#debs[@]} -gt 0 ]] || { echo "fetch.sh: $pkg has no Python files" >&2; return 1; }
  fi
  local scratch; scratch=$(mktemp -d)
  rm -rf "$dest" && mkdir -p "$dest"
  for deb in "${debs[@]}"; do
    dpkg-deb -x "$deb" "$scratch"
  done
  local entry
  for entry in "$scratch/$SITE"/*; do
    local base; base=$(basename "$entry")
    case "$base" in *.dist-info|*.egg-info|__pycache__) continue ;; esac
    if [[ -d "$entry" ]]; then
      (cd "$scratch/$SITE" && find "$base" -type f \( -name '*.py' -o -name '*.pyi' \) -print0 |
        xargs -0 -r cp --parents -t "$dest")
    elif [[ "$base" == *.py || "$base" == *.pyi ]]; then
      cp "$entry" "$dest/"
    fi
  done
  rm -rf "$scratch"
  printf '%s\n' "${debs[@]##*/}" > "$dest/.stamp"
}

if [[ $only_list -eq 0 ]]; then
  for pkg in "${PACKAGES[@]}"; do
    fetch_one "$pkg"
  done
fi

# What the cache holds.
{
  printf 'package\tfrom .deb\ttop-level\tpy files\tpy lines\tpyi files\n'
  for pkg in "${PACKAGES[@]}"; do
    dest="$SRC/$pkg"
    if [[ ! -f "$dest/.stamp" ]]; then printf '%s\t(missing)\t\t0\t0\t0\n' "$pkg"; continue; fi
    version=$(sed -E 's/^([^_]+)_([^_]+)_.*/\1=\2/; s/%3a/:/' "$dest/.stamp" | paste -sd, -)
    tops=$(cd "$dest" && ls -1 | paste -sd, -)
    files=$(find "$dest" -type f -name '*.py' | wc -l)
    lines=$(find "$dest" -type f -name '*.py' -print0 | xargs -0 -r cat | wc -l)
    stubs=$(find "$dest" -type f -name '*.pyi' | wc -l)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$pkg" "$version" "$tops" "$files" "$lines" "$stubs"
  done
} > "$CACHE/manifest.tsv"
awk -F'\t' 'NR > 1 { f += $4; l += $5; s += $6 } { print } END { printf "total\t\t\t%d\t%d\t%d\n", f, l, s }' "$CACHE/manifest.tsv" | column -t -s $'\t'
echo "corpus: $SRC"
