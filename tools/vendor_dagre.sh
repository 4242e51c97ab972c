#!/bin/sh
# Re-vendor @dagrejs/dagre's browser bundle into cnncalc/render/assets (a developer runs this by hand,
# never CI, never at report time; `npm pack` checks the download against the registry's integrity hash).
# Usage: sh tools/vendor_dagre.sh [VERSION]
set -eu
VERSION=${1:-3.1.3}
DEST=$(cd "$(dirname "$0")/.." && pwd)/cnncalc/render/assets
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
( cd "$WORK" && npm pack --silent "@dagrejs/dagre@$VERSION" >/dev/null )
tar -xzf "$WORK/dagrejs-dagre-$VERSION.tgz" -C "$WORK" package/dist/dagre.min.js package/LICENSE
cp "$WORK/package/dist/dagre.min.js" "$DEST/dagre.min.js"
cp "$WORK/package/LICENSE" "$DEST/dagre.LICENSE.txt"
printf '@dagrejs/dagre %s (npm), file package/dist/dagre.min.js, MIT, bundles @dagrejs/graphlib (MIT)\nsha256 %s\n' \
  "$VERSION" "$(sha256sum "$DEST/dagre.min.js" | cut -d' ' -f1)" > "$DEST/dagre.VERSION.txt"
cat "$DEST/dagre.VERSION.txt"
