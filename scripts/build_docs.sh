#!/usr/bin/env bash
# Builds the documentation site into build/docs/html: antsibull-docs renders every module and plugin page from
# the collection in this working tree, Sphinx adds the guides from docs/. Nothing here is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$root/.venv/bin
export PATH="$bin:$PATH"
src=$root/build/docs/src
rm -rf "$root/build/docs"
mkdir -p "$src/rst/guides"
cp docs/site/conf.py "$src/"
cp docs/site/index.rst docs/site/ansible-links.rst "$src/rst/"
chmod og-w "$src/rst"  # antsibull-docs wants the directory writable by its owner only
ANSIBLE_COLLECTIONS_PATH=$root/.collections "$bin/antsibull-docs" collection --use-current \
  --dest-dir "$src/rst" ksef.credentials
# The guides, with links between them kept working in the site.
for guide in docs/*.md; do
  sed -e 's/(\([a-z0-9-]*\)\.md)/(\1)/g' "$guide" > "$src/rst/guides/$(basename "$guide")"
done
mkdir -p "$src/rst/guides/examples"
cp docs/examples/*.yml "$src/rst/guides/examples/"
cp -r docs/images "$src/rst/guides/"
# Data files the guides link to are offered as downloads.
for data in docs/*.json; do
  cp "$data" "$src/rst/guides/"
  sed -i -e "s|(\($(basename "$data")\))|(path:\1)|g" "$src"/rst/guides/*.md
done
"$bin/sphinx-build" -q -b html -c "$src" -W --keep-going "$src/rst" "$root/build/docs/html"
echo "documentation site: build/docs/html/index.html"
