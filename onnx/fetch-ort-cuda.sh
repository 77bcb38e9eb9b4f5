#!/usr/bin/env bash
# Fetches ONNX Runtime 1.29.0's CUDA provider (CUDA 13, cuDNN 9) and the 1.29.0 core library
# it must run beside, from the npm registry's Unity packages of ONNX Runtime
# (com.github.asus4.onnxruntime*, 0.4.9): only the members below are extracted, no install
# script runs. About 330 MB to download, 260 MB on disk; not part of `make test`.
# Idempotent: exits at once when the pinned files are in place.
#
# DEST (default third_party/onnxruntime-cuda) ends up holding, in one folder:
#   libonnxruntime_providers_cuda.so    229780440 bytes, from ...linux-x64-gpu
#   libonnxruntime_providers_shared.so      14632 bytes, from ...linux-x64-gpu
#   libonnxruntime.so.1.29.0             28497752 bytes, from com.github.asus4.onnxruntime
# The core is a CPU build of 1.29.0 (SONAME libonnxruntime.so.1): its legacy CUDA calls answer
# "CUDA execution provider is not enabled in this build", so the provider is used as a plugin
# (RegisterExecutionProviderLibrary; it exports CreateEpFactories). The core sits beside the
# providers, not in a subfolder: it loads libonnxruntime_providers_shared.so from its own
# folder, and the CUDA provider takes Provider_GetHost from that already-loaded library (it has
# no DT_NEEDED on it). With the core elsewhere, registering fails with "undefined symbol:
# Provider_GetHost" (checked here with stub CUDA libraries). Its versioned name in a folder of
# its own keeps it apart from the pinned 1.30 CPU build (third_party/onnxruntime/). The CUDA
# provider works through ONNX Runtime's C++ provider bridge, whose layout changes between
# releases, so it needs this 1.29.0 core, not our 1.30 one.
#
# The two packages' libonnxruntime_providers_shared.so differ (sha256 c6a12593... in the GPU
# package, 086ec1d5... in the core package) but do the same: both export only
# Provider_GetHost and Provider_SetHost (version node VERS_1.0), store one pointer in .bss,
# need the same libraries and were built by the same GCC 14.2.1 (Red Hat 14.2.1-7). They
# differ in their build ids (899bb363... vs dbfdfdac...) and in the code of those two
# functions: the GPU build reads the pointer through a GOT load the linker relaxed to `lea`
# (the symbol was interposable when compiled), the core package's addresses it directly, a
# compile-flag difference between the two builds. We take the GPU package's copy, built with
# the CUDA provider; either works beside the 1.29 core, which loads whichever sits in its folder
# (both checked as far as registering the plugin, with stub CUDA libraries).
set -euo pipefail
pkg_ver=0.4.9
ort_ver=1.29.0
dest=${1:-third_party/onnxruntime-cuda}
# package|member|file in DEST|sha256
files=(
  "com.github.asus4.onnxruntime.linux-x64-gpu|package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so|libonnxruntime_providers_cuda.so|56cf3254b118ad837ccc4ed8f6d1b23504bbf7ef91b34cbc0b289cb7f10b3037"
  "com.github.asus4.onnxruntime.linux-x64-gpu|package/Plugins/Linux/x64/libonnxruntime_providers_shared.so|libonnxruntime_providers_shared.so|c6a12593396095f5670160e284c35d1700b7708cf3037b7042e2a5200ccae772"
  "com.github.asus4.onnxruntime|package/Plugins/Linux/x64/libonnxruntime.so|libonnxruntime.so.$ort_ver|5715f06d8992ca8eeeddcce43df3a7d38f97d537052126f558e912cb312460ca"
)

in_place() { # in_place FILE SHA: the file exists with the pinned sum
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}
missing=()
for f in "${files[@]}"; do
  IFS='|' read -r pkg member name sha <<< "$f"
  in_place "$dest/$name" "$sha" || missing+=("$f")
done
[ ${#missing[@]} -eq 0 ] && exit 0
command -v npm >/dev/null || { echo "fetch-ort-cuda: npm is required (apt-get install npm)" >&2; exit 1; }
mkdir -p "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
packed=" "
for f in "${missing[@]}"; do
  IFS='|' read -r pkg member name sha <<< "$f"
  tgz="$tmp/$pkg-$pkg_ver.tgz"
  if [[ "$packed" != *" $pkg "* ]]; then
    echo "fetch-ort-cuda: npm pack $pkg@$pkg_ver (ONNX Runtime $ort_ver; 150-180 MB, scripts not run)"
    (cd "$tmp" && npm pack --silent --ignore-scripts "$pkg@$pkg_ver" >/dev/null)
    packed+="$pkg "
  fi
  tar --no-same-owner -xzf "$tgz" -C "$tmp" "$member"
  got=$(sha256sum "$tmp/$member" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    echo "fetch-ort-cuda: sha256 mismatch for $pkg $member: got $got, want $sha" >&2
    exit 1
  fi
  mv "$tmp/$member" "$dest/$name.tmp"
  mv "$dest/$name.tmp" "$dest/$name"
  rm -f "$tmp/$member"
done
echo "fetch-ort-cuda: $dest (ONNX Runtime $ort_ver: CUDA provider, providers_shared, core)"
