#!/usr/bin/env bash
# Set up coderepo for development on a fresh machine (Python 3.11 and pip are enough):
# Debian's git (the tests' oracle and git server, never needed by coderepo at run time)
# and a virtual environment .venv with the three packages and the test tools.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v git >/dev/null 2>&1 || [ ! -x "$(git --exec-path 2>/dev/null)/git-http-backend" ]; then
  echo "setup: installing git (tests only)" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq git >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check \
  -e ./core -e ./plugins/github -e ./plugins/gitlab -r tests/requirements.txt
.venv/bin/coderepo --version >/dev/null
