#!/usr/bin/env bash
# Lints the changelog fragments and renders what the next release's CHANGELOG.rst will say, into build/changelog/,
# from a copy: a real release (`antsibull-changelog release` in the repository) consumes the fragments.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$root/.venv/bin
export PATH="$bin:$PATH"
version=$("$bin/python" -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')
"$bin/antsibull-changelog" lint
rm -rf build/changelog && mkdir -p build/changelog
cp -r galaxy.yml README.md meta plugins build/changelog/
cp -r changelogs build/changelog/
cd build/changelog
"$bin/antsibull-changelog" release --version "$version" --date "$(date -u +%Y-%m-%d)" >/dev/null
echo "changelog preview: build/changelog/CHANGELOG.rst"
