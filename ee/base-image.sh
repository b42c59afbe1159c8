#!/usr/bin/env bash
# The base image of the execution environment, built here from Debian's packages: no container registry is
# needed (none is reachable from the project's machines). debootstrap makes a minimal Debian root file system
# with Python; `podman import` turns it into localhost/ksef-ee-base:<suite>.
#
# ansible-builder installs system packages with `$PKGMGR install -y <packages>` and `$PKGMGR clean all` (dnf's
# syntax); apt-as-dnf, added below, does those with apt-get.
set -euo pipefail
suite="${EE_DEBIAN_SUITE:-bookworm}"
mirror="${EE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
image="${EE_BASE_IMAGE:-localhost/ksef-ee-base:$suite}"
work="${EE_WORK_DIR:-build/ee}"

rootfs="$work/rootfs-$suite"
rm -rf "$rootfs"
mkdir -p "$rootfs"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }

# The build host's own CAs (/usr/local/share/ca-certificates: a company's or a proxy's) are trusted in the image
# too, so pip reaches the package index from inside a build exactly as it does on the host.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  chroot "$rootfs" update-ca-certificates >/dev/null
fi

# The image's Python environment: a venv on Debian's python3 (Debian disables ensurepip, which ansible-builder
# installs pip with, for the system Python; a venv has it). ee/execution-environment.yml names its python.
chroot "$rootfs" /usr/bin/python3 -m venv /opt/ee

cat >"$rootfs/usr/local/sbin/apt-as-dnf" <<'SCRIPT'
#!/bin/sh
# What ansible-builder's scripts ask of dnf (`install -y PACKAGES...`, `clean all`), done with apt-get.
set -e
export DEBIAN_FRONTEND=noninteractive
case "$1" in
  install)
    shift
    apt-get update -qq
    apt-get install --no-install-recommends -qq "$@"
    rm -rf /var/lib/apt/lists/* ;;
  clean)
    apt-get clean
    rm -rf /var/lib/apt/lists/* ;;
  *)
    echo "apt-as-dnf: unsupported command: $*" >&2
    exit 2 ;;
esac
SCRIPT
chmod 0755 "$rootfs/usr/local/sbin/apt-as-dnf"
# Keep the image small: no package lists, caches or documentation.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*

tar --numeric-owner -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' \
  --change 'ENV PATH=/opt/ee/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV ANSIBLE_PYTHON_INTERPRETER=/opt/ee/bin/python' \
  --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' - "$image" >/dev/null
rm -rf "$rootfs"
echo "$image"
