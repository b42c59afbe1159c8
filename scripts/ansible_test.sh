#!/usr/bin/env bash
# Run ansible-test on a copy of the collection at build/ansible_collections/ksef/credentials.
#
#   scripts/ansible_test.sh sanity [ansible-test options...]   e.g. --test pep8, --color no
#   scripts/ansible_test.sh units  [ansible-test options...]
#
# Every test runs in virtual environments that ansible-test creates and caches under ~/.ansible/test/
# (--venv): no docker. Environment: PYTHON_VERSION (default 3.11), VENV_BIN (default .venv/bin).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
VENV_BIN="${VENV_BIN:-$REPO/.venv/bin}"
PYTHON_VERSION="${PYTHON_VERSION:-3.11}"

usage() {
    echo "usage: $0 sanity|units [ansible-test options...]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
command="$1"
shift
case "$command" in
    sanity|units) ;;
    *) usage ;;
esac

# ansible-test bootstraps pip in each venv with a get-pip script it downloads from
# ci-files.testing.ansible.com and caches; offline, an ensurepip-based stand-in takes its place.
# A real, previously downloaded script is left alone.
get_pip_cache="$("$VENV_BIN/python" - <<'EOF'
import os
from types import SimpleNamespace
from ansible_test._internal.python_requirements import get_venv_packages
pip_version = get_venv_packages(SimpleNamespace(version=os.environ.get("PYTHON_VERSION", "3.11")))["pip"]
print(os.path.expanduser("~/.ansible/test/cache/get_pip_%s.py" % pip_version.replace(".", "_")))
EOF
)"
if [ ! -f "$get_pip_cache" ] || grep -q "Offline stand-in for the get-pip" "$get_pip_cache"; then
    mkdir -p "$(dirname "$get_pip_cache")"
    cp "$REPO/scripts/get_pip_standin.py" "$get_pip_cache"
fi

collection="$("$VENV_BIN/python" "$REPO/scripts/collection_tree.py")"

# Unit tests share tests/conftest.py and tests/support/ with the project's own pytest run; ansible-test
# installs only ansible-core's and pytest's own packages into the units venv, so the libraries of the
# collection and of the tests come from tests/unit/requirements.txt. Until the repository has one, the
# copy gets one made of requirements.txt and requirements-dev.txt, minus what ansible-test provides.
# The emulator's own unit tests (tests/unit/emulator/) need the emulator package: it is installed from
# the copy by absolute path, which only this script knows, so that line is added to the copy alone.
if [ "$command" = units ]; then
    requirements="$collection/tests/unit/requirements.txt"
    if [ ! -f "$requirements" ]; then
        mkdir -p "$(dirname "$requirements")"
        cat "$REPO/requirements.txt" "$REPO/requirements-dev.txt" \
            | sed -E 's/#.*//; s/^[[:space:]]+//; s/[[:space:]]+$//' \
            | grep -v -E '^(-r|$)' \
            | grep -v -i -E '^(ansible-core|ansible|pytest|antsibull-changelog)([^a-z0-9_.-]|$)' \
            > "$requirements"
    fi
    if [ -d "$collection/tests/unit/emulator" ]; then
        echo "$collection/emulator" >> "$requirements"
    fi
fi

# ansible-test runs unit tests without the caller's environment, so the run's mark (KSEF_RUN_ID, which
# scripts/leftovers.py finds its processes by) reaches the servers they start through this file of the copy
# (tests/support/processes.py reads it). Outside a marked run no stale mark is left.
run_id_file="$collection/tests/output/ksef-run-id"
if [ -n "${KSEF_RUN_ID:-}" ]; then
    mkdir -p "$(dirname "$run_id_file")"
    printf '%s\n' "$KSEF_RUN_ID" > "$run_id_file"
else
    rm -f "$run_id_file"
fi

cd "$collection"
export PATH="$VENV_BIN:$PATH"
start=$(date +%s)
status=0
ansible-test "$command" --venv --python "$PYTHON_VERSION" "$@" || status=$?
echo "ansible-test $command finished with exit code $status in $(( $(date +%s) - start )) s" >&2
exit "$status"
