#!/usr/bin/env bash
# Install the Debian packages the tests need (as root), skipping any already installed:
# the PostgreSQL server for the end-to-end tests, make, and venv support for python3.
set -euo pipefail

# postgresql pulls in the matching client (psql, createdb).
packages=(postgresql make)
# Debian's own python3 needs python3-venv for `python3 -m venv`; other Pythons ship it.
python3 -c 'import ensurepip' 2>/dev/null || packages+=(python3-venv)

missing=()
for package in "${packages[@]}"; do
    status="$(dpkg-query --show --showformat='${Status}' "$package" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
    echo "install-system-deps: all present (${packages[*]})" >&2
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    echo "install-system-deps: missing ${missing[*]}; rerun as root or install them" >&2
    exit 1
fi
# The package would otherwise create and start a 'main' cluster on 5432;
# scripts/start-postgres.sh runs its own.
mkdir -p /etc/postgresql-common
[[ -e /etc/postgresql-common/createcluster.conf ]] ||
    echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf
echo "install-system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# confold/confdef: keep the createcluster.conf written above without asking.
apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
