#!/usr/bin/env bash
# Fetches SwiftShader, a software Vulkan driver, with its own Vulkan loader (libvulkan.so.1),
# from the npm registry's @sparticuz/chromium package (bin/swiftshader.tar.br), so that the
# WebGPU execution provider inside the pinned ONNX Runtime has an adapter on a machine
# without a GPU: `make test` checks the WebGPU path against the CPU with it. The archive is
# brotli-compressed; node (which comes with npm) decompresses it. No install script runs.
# Idempotent: exits at once when the pinned files are in place.
set -euo pipefail
version=153.0.0
sha=b680e40a33235ecc6ad4c6897a168b70ce5164f0d62d2a64d675320d51614631
member=package/bin/swiftshader.tar.br
dest=${1:-third_party/swiftshader}

if [ -f "$dest/vk_swiftshader_icd.json" ] && [ -f "$dest/.sha256" ] && [ "$(cat "$dest/.sha256")" = "$sha" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-swiftshader: npm is required (apt-get install npm)" >&2; exit 1; }
command -v node >/dev/null || { echo "fetch-swiftshader: node is required (it comes with npm)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-swiftshader: npm pack @sparticuz/chromium@$version (about 70 MB, scripts not run)"
(cd "$tmp" && npm pack --silent --ignore-scripts "@sparticuz/chromium@$version" >/dev/null)
tar -xzf "$tmp/sparticuz-chromium-$version.tgz" -C "$tmp" "$member"
got=$(sha256sum "$tmp/$member" | cut -d' ' -f1)
if [ "$got" != "$sha" ]; then
  echo "fetch-swiftshader: sha256 mismatch for $member: got $got, want $sha" >&2
  exit 1
fi
node -e 'const z=require("zlib"),fs=require("fs");fs.writeFileSync(process.argv[2],z.brotliDecompressSync(fs.readFileSync(process.argv[1])))' \
  "$tmp/$member" "$tmp/swiftshader.tar"
mkdir -p "$tmp/out"
tar -xf "$tmp/swiftshader.tar" -C "$tmp/out"
rm -rf "$dest.tmp" && mkdir -p "$(dirname "$dest")" && mv "$tmp/out" "$dest.tmp"
echo "$sha" > "$dest.tmp/.sha256"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
echo "fetch-swiftshader: $dest (SwiftShader Vulkan, from @sparticuz/chromium $version)"
