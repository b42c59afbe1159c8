"""Offline stand-in for the get-pip bootstrap script that ansible-test downloads.

ansible-test creates its per-test virtual environments without pip and bootstraps pip by running
`https://ci-files.testing.ansible.com/ansible-test/get-pip-<version>.py`, cached as
`~/.ansible/test/cache/get_pip_<version>.py`. Where that host is unreachable, scripts/ansible_test.sh
places this file at the cache path instead. It does what get-pip does with the arguments ansible-test
passes (`--disable-pip-version-check pip==<version> --no-setuptools --no-wheel`): install pip from the
interpreter's bundled wheel (ensurepip), then `pip install` the requested packages through the
configured package index.
"""
from __future__ import annotations

import subprocess
import sys

# Options only get-pip understands; plain `pip install` must not see them.
GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}


def main(argv: list[str]) -> int:
    # A child process: ensurepip blanks PIP_* variables and the pip configuration file in the process
    # that runs it, and the install below needs them (index, certificates, proxy).
    bootstrapped = subprocess.call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
    if bootstrapped != 0:
        return bootstrapped
    pip_args = [arg for arg in argv if arg not in GET_PIP_ONLY_OPTIONS]
    if any(not arg.startswith("-") for arg in pip_args):
        installed = subprocess.call([sys.executable, "-m", "pip", "install", *pip_args])
        if installed != 0:
            return installed
    # ensurepip always brings setuptools; get-pip leaves it out when asked to, and so must we.
    if "--no-setuptools" in argv:
        return subprocess.call([sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet", "setuptools"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
