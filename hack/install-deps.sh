#!/usr/bin/env bash
# Installs everything the ecsd tests need on a fresh Debian 12 machine:
#   - Debian packages: runc, CNI plugins, docker-registry, busybox-static, ...
#   - containerd v2.4.2 (+ shim and ctr) built from the Go module proxy into
#     /usr/local/bin.
# Idempotent: a second run only checks and returns within a second or so.
set -euo pipefail

CONTAINERD_VERSION="${CONTAINERD_VERSION:-2.4.2}"
CONTAINERD_BIN_DIR="${CONTAINERD_BIN_DIR:-/usr/local/bin}"
export PATH="/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"

log() { echo "install-deps: $*" >&2; }
# took prints how long the step begun at $1 ($SECONDS) took.
took() { echo "$((SECONDS - $1))s"; }

if [[ "$(id -u)" -ne 0 ]]; then
  log "must run as root"
  exit 1
fi

# ---------------------------------------------------------------------------
# Debian packages
# ---------------------------------------------------------------------------
PACKAGES=(
  runc
  containernetworking-plugins
  docker-registry
  busybox-static
  iptables
  iproute2
  apache2-utils   # htpasswd -B
  ca-certificates
  make
  tini            # static init for initProcessEnabled containers
  lintian         # make test-packages: the .deb must have no lintian errors
  rpm             # make test-packages: rpm -qp, rpm -i --test and installs into scratch roots
  debootstrap     # the systemd boot test (make test-systemd) builds its Debian root with it
  systemd-container  # systemd-nspawn, which boots that root
  nfs-common      # mount.nfs: EFS and local-driver NFS volumes
  stunnel4        # EFS transit encryption (the TLS tunnel to port 2049)
  nfs-ganesha     # the e2e tests' NFS server, run in a network namespace they create
  nfs-ganesha-vfs
  user-mode-linux    # test/e2e TestCgroupV2* boot it for a real cgroup v2 hierarchy (make test-cgroupv2)
  rsyslog         # the syslog log driver's e2e test runs a receiver of its own (rsyslogd -n -f)
)

installed="$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null | awk '$2 == "install" && $4 == "installed" { print $1 }' || true)"
missing=()
for p in "${PACKAGES[@]}"; do
  grep -qxF "$p" <<<"$installed" || missing+=("$p")
done

if ((${#missing[@]} > 0)); then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The docker-registry package ships an init script that would start a
  # registry on :5000 (all interfaces) right after install. We run our own
  # instances, so forbid service starts during the install unless the machine
  # already has a policy in place.
  policy_created=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    policy_created=1
  fi
  cleanup_policy() { if ((policy_created)); then rm -f /usr/sbin/policy-rc.d; fi; }
  trap cleanup_policy EXIT
  t=$SECONDS
  log "apt-get update"
  apt-get update -qq >/dev/null
  log "apt-get update done ($(took "$t")); apt-get install ${#missing[@]} packages"
  t=$SECONDS
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  log "Debian packages installed ($(took "$t"))"
  cleanup_policy
  trap - EXIT
fi

# The AWS CLI: the e2e tests drive the local control plane with it, as users do. These
# machines ship one (pyenv's aws-cli v1, which honours AWS_ENDPOINT_URL_<SERVICE>); on a
# machine without one, Debian's awscli is installed.
if ! command -v aws >/dev/null 2>&1 && [[ ! -x "${HOME:-/root}/.pyenv/shims/aws" ]]; then
  log "installing Debian's awscli (no aws on PATH)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends awscli >/dev/null
fi

# Sanity checks on what the tests rely on.
for f in /usr/sbin/debootstrap /usr/bin/systemd-nspawn /bin/busybox /usr/bin/lintian /usr/bin/rpm /usr/sbin/runc /usr/bin/docker-registry /usr/bin/htpasswd /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/loopback; do
  [[ -x "$f" ]] || { log "expected $f after install"; exit 1; }
done

# ---------------------------------------------------------------------------
# containerd (built with `go install`, the only way to get 2.x from a
# registry this machine can reach)
# ---------------------------------------------------------------------------
containerd_ok() {
  local v
  [[ -x "$CONTAINERD_BIN_DIR/containerd" && -x "$CONTAINERD_BIN_DIR/containerd-shim-runc-v2" && -x "$CONTAINERD_BIN_DIR/ctr" ]] || return 1
  v="$("$CONTAINERD_BIN_DIR/containerd" --version 2>/dev/null || true)"
  [[ "$v" =~ [[:space:]]v?${CONTAINERD_VERSION//./\\.}([+[:space:]-]|$) ]] || return 1
  v="$("$CONTAINERD_BIN_DIR/ctr" --version 2>/dev/null || true)"
  [[ "$v" =~ [[:space:]]v?${CONTAINERD_VERSION//./\\.}([+[:space:]-]|$) ]] || return 1
}

if ! containerd_ok; then
  command -v go >/dev/null || { log "go not found in PATH"; exit 1; }
  log "building containerd v${CONTAINERD_VERSION} (containerd, containerd-shim-runc-v2, ctr) into ${CONTAINERD_BIN_DIR}; this takes a few minutes"
  t=$SECONDS
  # Run outside the repository so the project's go.mod does not interfere.
  (
    cd /
    GOBIN="$CONTAINERD_BIN_DIR" GOFLAGS="-buildvcs=false" GO111MODULE=on \
      go install \
        "github.com/containerd/containerd/v2/cmd/containerd@v${CONTAINERD_VERSION}" \
        "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@v${CONTAINERD_VERSION}" \
        "github.com/containerd/containerd/v2/cmd/ctr@v${CONTAINERD_VERSION}"
  )
  containerd_ok || { log "containerd v${CONTAINERD_VERSION} still not found after go install"; exit 1; }
  log "containerd v${CONTAINERD_VERSION} built ($(took "$t"))"
fi

exit 0
