#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python: shellcheck for ansible-test sanity, chromium and
# chromium-driver for the audit report's browser test. Installs only what is missing; needs root (CI and
# the project's machines run as root).
set -euo pipefail
packages=()
command -v shellcheck >/dev/null 2>&1 || packages+=(shellcheck)
[ -x /usr/bin/chromium ] || packages+=(chromium)
[ -x /usr/bin/chromedriver ] || packages+=(chromium-driver)
[ ${#packages[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${packages[*]} (run as root: apt-get install -y ${packages[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
