#!/usr/bin/env bash
# Pushes the soak's images to the test registry: 127.0.0.1:5000/ecsd/soak:0 … :N-1
# (N = SOAK_IMAGES, default 12), busybox plus /etc/soak holding the tag, so each has a
# digest of its own. Deterministic, like the other test images: a rerun uploads nothing.
set -euo pipefail
export PATH="/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REGISTRY="${ECSD_TEST_REGISTRY:-127.0.0.1:5000}"
MKIMAGE="$ROOT/bin/mkimage"
(cd "$ROOT/hack/mkimage" && GOFLAGS="${GOFLAGS:--buildvcs=false}" go build -o "$MKIMAGE" .)
for i in $(seq 0 $((${SOAK_IMAGES:-12} - 1))); do
  "$MKIMAGE" -registry "$REGISTRY" -repo ecsd/soak -tag "$i" -file-content "/etc/soak=soak image $i" >/dev/null
done
