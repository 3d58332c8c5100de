#!/usr/bin/env bash
# Builds the ecsd test images with hack/mkimage (go-containerregistry, its own module; no image downloads)
# and pushes them to the local registries started by hack/start-registry.sh:
#
#   127.0.0.1:5000/ecsd/busybox:latest   busybox rootfs, Cmd ["sh"]
#   127.0.0.1:5000/ecsd/busybox:v2       + layer with /etc/ecsd-version ("v2"),
#                                        label org.ecsd.test.version=v2
#   127.0.0.1:5001/ecsd/busybox:latest   same bytes as :5000 latest, behind
#                                        basic auth (ecsd / ecsd-secret)
#   127.0.0.1:5000/ecsd/credprobe:latest busybox + /usr/bin/credprobe, a static
#                                        Go program using aws-sdk-go-v2's default
#                                        credential chain (hack/testimages/credprobe)
#   127.0.0.1:5000/ecsd/otelprobe:latest busybox + /usr/bin/otelprobe, a static
#                                        Go program running OpenTelemetry's ECS
#                                        resource detector (hack/testimages/otelprobe,
#                                        its own module)
#
# Images are deterministic, so the digests are stable run to run; blobs the
# registry already has are not uploaded again. Idempotent.
set -euo pipefail

export PATH="/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REGISTRY="${ECSD_TEST_REGISTRY:-127.0.0.1:5000}"
AUTH_REGISTRY="${ECSD_TEST_AUTH_REGISTRY:-127.0.0.1:5001}"
AUTH_USER="${ECSD_TEST_AUTH_USER:-ecsd}"
AUTH_PASSWORD="${ECSD_TEST_AUTH_PASSWORD:-ecsd-secret}"
MKIMAGE="$ROOT/bin/mkimage"

cd "$ROOT"
# go build is a no-op (cache hit) when nothing changed. mkimage is its own module
# (go-containerregistry's dependencies stay out of the agent's go.mod).
(cd "$ROOT/hack/mkimage" && GOFLAGS="${GOFLAGS:--buildvcs=false}" go build -o "$MKIMAGE" .)

"$MKIMAGE" -registry "$REGISTRY" -repo ecsd/busybox -tag latest
"$MKIMAGE" -registry "$REGISTRY" -repo ecsd/busybox -tag v2 \
  -file-content /etc/ecsd-version=v2 -label org.ecsd.test.version=v2
"$MKIMAGE" -registry "$AUTH_REGISTRY" -repo ecsd/busybox -tag latest \
  -user "$AUTH_USER" -password "$AUTH_PASSWORD"
CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}" go build -trimpath -ldflags '-s -w' \
  -o "$ROOT/bin/credprobe" ./hack/testimages/credprobe
"$MKIMAGE" -registry "$REGISTRY" -repo ecsd/credprobe -tag latest \
  -extra-file "$ROOT/bin/credprobe:/usr/bin/credprobe"
# otelprobe is its own module (the detector's dependencies stay out of the agent's go.mod).
(cd "$ROOT/hack/testimages/otelprobe" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}" \
  go build -trimpath -ldflags '-s -w' -o "$ROOT/bin/otelprobe" .)
"$MKIMAGE" -registry "$REGISTRY" -repo ecsd/otelprobe -tag latest \
  -extra-file "$ROOT/bin/otelprobe:/usr/bin/otelprobe"
