#!/usr/bin/env bash
# The body of `make test-pythons`: the unit tier on every Python other than the project venv's.
#
# Usage: scripts/test-pythons.sh SKIP_VERSION VERSION...
#   e.g. scripts/test-pythons.sh 3.11 3.10 3.11 3.12 3.13 3.14
#
# Each VERSION but SKIP_VERSION is looked for as `python3.X` on PATH, then under pyenv's
# versions ($PYENV_ROOT, default ~/.pyenv); a candidate counts only if it runs and says it is
# that version (a pyenv shim for a version pyenv does not select does not run). Each Python
# found gets its own venv, .venv-py3.X, with the project's test extra and the emulator installed
# editable, dependencies resolved by pip on that Python (constraints.txt is resolved on 3.11:
# see the Makefile); the venv is reinstalled when a pyproject.toml is newer than it, and
# `rm -rf .venv-py3.X` resolves everything afresh. Then the unit tier runs: unit tests under
# tests/unit and tests/emulator (`-m "not integration and not e2e"`), no meltano needed.
#
# Exit status: 0 when the unit tier passed on every Python found, or when none was found (a
# message says so); 1 when it failed on any (each one's result is listed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."

skip_version=$1
shift

readonly UNIT_TIER=(tests/unit tests/emulator -m "not integration and not e2e")
readonly PYENV_VERSIONS="${PYENV_ROOT:-$HOME/.pyenv}/versions"

# Whether $1 runs and is Python $2 (3.X).
is_python() {
    local said
    [[ -x "$1" ]] || return 1
    said=$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || return 1
    [[ "$said" == "$2" ]]
}

# Prints the path of a working Python of version $1 (3.X), or nothing.
find_python() {
    local version=$1 candidate folder
    if candidate=$(command -v "python$version") && is_python "$candidate" "$version"; then
        echo "$candidate"
        return
    fi
    # pyenv's installs of that version, newest patch release first.
    while read -r folder; do
        if is_python "$folder/bin/python$version" "$version"; then
            echo "$folder/bin/python$version"
            return
        fi
    done < <(printf '%s\n' "$PYENV_VERSIONS/$version".* | sort -rV)
}

results=()
status=0
for version in "$@"; do
    [[ "$version" == "$skip_version" ]] && continue
    python=$(find_python "$version")
    if [[ -z "$python" ]]; then
        echo "test-pythons: no Python $version found (python$version on PATH, $PYENV_VERSIONS/$version.*)"
        continue
    fi
    venv=".venv-py$version"
    echo "test-pythons: Python $version ($python) in $venv"
    if [[ ! -x "$venv/bin/python" ]]; then
        rm -rf "$venv"
        "$python" -m venv "$venv"
    fi
    if [[ ! -f "$venv/.installed" || pyproject.toml -nt "$venv/.installed" ||
        voucherify_emulator/pyproject.toml -nt "$venv/.installed" ]]; then
        "$venv/bin/python" -m pip install --quiet --upgrade pip
        "$venv/bin/python" -m pip install --quiet -e '.[test]' -e ./voucherify_emulator
        touch "$venv/.installed"
    fi
    if "$venv/bin/python" -m pytest -p no:cacheprovider -q "${UNIT_TIER[@]}"; then
        results+=("Python $version: passed")
    else
        results+=("Python $version: FAILED")
        status=1
    fi
done

if [[ ${#results[@]} -eq 0 ]]; then
    echo "test-pythons: no Python other than $skip_version found; nothing to run"
    exit 0
fi
printf 'test-pythons: %s\n' "${results[@]}"
exit $status
