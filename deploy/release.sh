#!/usr/bin/env bash
# Builds a VM release (npm run release): both binaries with the version baked in, and
#   dist/linkfort-<version>/                     the folder install.sh runs from
#   dist/linkfort-<version>-linux-x64.tar.gz     that folder, for upgrade.sh and other machines
# Layout and names: see the deployment contract in docs (top folder, SHA256SUMS covering every
# other file, VERSION). LINKFORT_VERSION overrides package.json's version (binaries and names).
# Needs only `npm install` in a clean clone: bun is a devDependency.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$(date +%s%N)

version=${LINKFORT_VERSION:-$(node -p 'require("./package.json").version')}
# The version becomes a folder, a file name and a JS string literal: keep it to plain characters.
if [[ ! $version =~ ^[0-9A-Za-z][0-9A-Za-z.+_-]*$ ]]; then
  echo "release: LINKFORT_VERSION=\"$version\" must be letters, digits and . + _ - only" >&2
  exit 2
fi
# bun build --compile targets the host; the tarball's name promises linux-x64.
if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
  echo "release: builds linux-x64 only, this host is $(uname -s)-$(uname -m)" >&2
  exit 2
fi

# The same commands as `npm run build` / `build:supervisor` (same flags: no .env or bunfig.toml
# autoload in the binaries), plus the version as a compile-time constant (service/src/lib/version.ts).
define="--define=LINKFORT_BUILD_VERSION=\"$version\""
npm run --silent build -- "$define"
npm run --silent build:supervisor -- "$define"

for bin in linkfort linkfort-supervisor; do
  reported=$("dist/$bin" version)
  if [ "$reported" != "$version" ]; then
    echo "release: dist/$bin reports version \"$reported\", expected \"$version\"" >&2
    exit 1
  fi
done

name=linkfort-$version
out=dist/$name
tarball=dist/$name-linux-x64.tar.gz
rm -rf "$out" "$tarball"
mkdir -p "$out"

cp dist/linkfort dist/linkfort-supervisor "$out/"
cp -R systemd "$out/systemd"
cp Caddyfile "$out/"
# deploy/ without its tests and without this script (a release does not build releases).
mkdir "$out/deploy" "$out/monitoring"
tar -C deploy --exclude=./test --exclude=./release.sh -cf - . | tar -C "$out/deploy" -xf -
# monitoring/ without the bun tests and their helpers (promtool rule tests stay: they document the rules).
tar -C monitoring --exclude=./test -cf - . | tar -C "$out/monitoring" -xf -
# The operator's documents, which alert annotations and script messages point to.
mkdir "$out/docs"
cp README.md "$out/"
cp docs/RUNBOOK.md docs/ALERTS.md docs/FAILURE_MODES.md "$out/docs/"
echo "$version" > "$out/VERSION"

# Permissions do not depend on the umask or the checkout: scripts and binaries 0755, the rest 0644.
find "$out" -type d -exec chmod 0755 {} +
find "$out" -type f -exec chmod 0644 {} +
chmod 0755 "$out/linkfort" "$out/linkfort-supervisor"
find "$out" -type f -name '*.sh' -exec chmod 0755 {} +

# sha256sum -c compatible, run from inside the folder; covers every file but itself.
sums=$(cd "$out" && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum)
printf '%s\n' "$sums" > "$out/SHA256SUMS"
(cd "$out" && sha256sum --quiet -c SHA256SUMS)

# gzip -1: the binaries are most of the bytes and barely compress; -6 cost twice the CPU here
# (15 s against 6 s) for a tarball 7 % smaller. -n keeps timestamps out of the gzip header.
tar -C dist --sort=name --owner=0 --group=0 --numeric-owner -cf - "$name" | gzip -1 -n > "$tarball"

elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
echo "release $version: $out/ and $tarball ($(du -h "$tarball" | cut -f1), $(wc -l < "$out/SHA256SUMS") files checksummed) in $elapsed_ms ms"
echo "tarball sha256: $(sha256sum "$tarball" | cut -d' ' -f1)"
