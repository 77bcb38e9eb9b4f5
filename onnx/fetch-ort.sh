#!/usr/bin/env bash
# Fetches the CPU build of ONNX Runtime 1.30.0 from the npm registry's onnxruntime-node
# package, extracting only the shared library; no install script of that package runs.
# Idempotent: exits at once when the pinned file is already in place.
set -euo pipefail
version=1.30.0
sha=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
member=package/bin/napi-v6/linux/x64/libonnxruntime.so.1
dest=${1:-third_party/onnxruntime}
lib="$dest/libonnxruntime.so.1"

if [ -f "$lib" ] && [ "$(sha256sum "$lib" | cut -d' ' -f1)" = "$sha" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-ort: npm is required (apt-get install npm)" >&2; exit 1; }
mkdir -p "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-ort: npm pack onnxruntime-node@$version (about 110 MB, scripts not run)"
(cd "$tmp" && npm pack --silent --ignore-scripts "onnxruntime-node@$version" >/dev/null)
tar -xzf "$tmp/onnxruntime-node-$version.tgz" -C "$tmp" "$member"
got=$(sha256sum "$tmp/$member" | cut -d' ' -f1)
if [ "$got" != "$sha" ]; then
  echo "fetch-ort: sha256 mismatch for $member: got $got, want $sha" >&2
  exit 1
fi
mv "$tmp/$member" "$lib.tmp"
mv "$lib.tmp" "$lib"
echo "fetch-ort: $lib (ONNX Runtime $version CPU)"
