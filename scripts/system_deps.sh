#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python: shellcheck for ansible-test sanity, chromium and
# chromium-driver for the audit report's browser test. Installs only what is missing; needs root (CI and
# the project's machines run as root).
#
# `system_deps.sh ee`: what `make ee` needs instead: podman with the runc runtime, and debootstrap for the base image.
set -euo pipefail
packages=()
if [ "${1:-}" = ee ]; then
  command -v podman >/dev/null 2>&1 || packages+=(podman)
  command -v runc >/dev/null 2>&1 || packages+=(runc)
  command -v debootstrap >/dev/null 2>&1 || packages+=(debootstrap)
  command -v newuidmap >/dev/null 2>&1 || packages+=(uidmap)
else
  command -v shellcheck >/dev/null 2>&1 || packages+=(shellcheck)
  [ -x /usr/bin/chromium ] || packages+=(chromium)
  [ -x /usr/bin/chromedriver ] || packages+=(chromium-driver)
fi
[ ${#packages[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${packages[*]} (run as root: apt-get install -y ${packages[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
