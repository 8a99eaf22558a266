#!/usr/bin/env bash
# Installs everything grader needs on a fresh Debian machine (run as root): system packages,
# a virtualenv in .venv with the project and its test dependencies. Idempotent and quick when
# everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(bubblewrap dataset-fashion-mnist chromium util-linux)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: faltan paquetes del sistema: ${missing[*]}; ejecute como root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creando .venv con $($PY --version)"
  "$PY" -m venv .venv
fi
stamp=.venv/.grader-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: pip install -e .[teacher,test,cluster] (tensorflow-cpu tarda ~1 minuto)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[teacher,test,cluster]"
  touch "$stamp"
fi
