#!/usr/bin/env bash
# Local Docker setup for running real containers under @cloudflare/vitest-pool-workers.
# Idempotent: every step runs only when needed. Safe on Docker Desktop (skips install/daemon).
#
#   bash scripts/dev-setup.sh          # set up; prints `export ...` lines on stdout
#   eval "$(bash scripts/dev-setup.sh)"
#   source scripts/dev-setup.sh        # set up and export into the current shell
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then # sourced: run in a child shell, keep our shell's options
  _cfwp_exports="$(bash "${BASH_SOURCE[0]}")" && eval "$_cfwp_exports"
  unset _cfwp_exports
  return
fi
set -euo pipefail

BASE_IMAGE="${BASE_IMAGE:-busybox:1.36}"                    # `FROM busybox:1.36` in test Dockerfiles
EGRESS_IMAGE="${EGRESS_IMAGE:-cf-warm-pool/egress-stub:local}" # stand-in for cloudflare/proxy-everything
SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SUDO=""; [[ $EUID -eq 0 ]] || SUDO="sudo"
log() { echo "dev-setup: $*" >&2; }

apt_install() { # apt-get update only if the plain install fails (e.g. empty package lists)
  log "installing $*"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq "$@" >/dev/null 2>&1 ||
    { $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq "$@" >/dev/null; }
}

# 1. Docker engine: only when `docker info` does not already work.
if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || apt_install docker.io
  if [[ ! -S /var/run/docker.sock ]] || ! docker info >/dev/null 2>&1; then
    # --userland-proxy=false: with docker-proxy, readiness probes to a just-started
    # container's published port sometimes hung for PING_TIMEOUT (5 s) under workerd.
    log "starting dockerd (log: /tmp/dockerd.log)"
    $SUDO bash -c 'setsid dockerd --userland-proxy=false </dev/null >/tmp/dockerd.log 2>&1 &'
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { log "dockerd did not come up; see /tmp/dockerd.log"; exit 1; }
fi

# 2. Base image: pull if a registry works elsewhere, else build it from static busybox.
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  if command -v apt-get >/dev/null; then
    dpkg -s busybox-static >/dev/null 2>&1 || apt_install busybox-static
    log "seeding $BASE_IMAGE from /bin/busybox via docker import"
    root="$(mktemp -d)"
    mkdir -p "$root"/{bin,etc,root,tmp,var/www} && chmod 1777 "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    for applet in $("$root/bin/busybox" --list); do
      [[ -e "$root/bin/$applet" ]] || ln "$root/bin/busybox" "$root/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    tar -C "$root" -c . | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["sh"]' - "$BASE_IMAGE" >/dev/null
    rm -rf "$root"
  else
    docker pull "$BASE_IMAGE" >/dev/null
  fi
fi

# 3. Egress interceptor stand-in (miniflare pulls cloudflare/proxy-everything otherwise).
docker image inspect "$EGRESS_IMAGE" >/dev/null 2>&1 || docker tag "$BASE_IMAGE" "$EGRESS_IMAGE"

# 4. Wrapper that lets wrangler drive a buildx-less, offline docker.
chmod +x "$SCRIPTS_DIR/docker-wrapper.sh"

echo "export WRANGLER_DOCKER_BIN='$SCRIPTS_DIR/docker-wrapper.sh'"
echo "export MINIFLARE_CONTAINER_EGRESS_IMAGE='$EGRESS_IMAGE'"
