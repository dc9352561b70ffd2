#!/usr/bin/env bash
# WRANGLER_DOCKER_BIN shim for Docker engines without buildx (e.g. Debian's docker.io)
# and without registry access.
#  - `docker build`: wrangler passes `--load --platform X --provenance=false`, which the
#    classic builder rejects; drop them (only when buildx is missing).
#  - `docker pull [--platform X] IMAGE`: succeed offline if IMAGE already exists locally.
# Everything else goes straight to the real docker ($REAL_DOCKER, default `docker`).
set -euo pipefail
REAL_DOCKER="${REAL_DOCKER:-docker}"

case "${1:-}" in
  build)
    if ! "$REAL_DOCKER" buildx version >/dev/null 2>&1; then
      args=()
      for ((i = 2; i <= $#; i++)); do
        a="${!i}"
        case "$a" in
          --load | --provenance=false | --platform=*) ;;
          --platform) i=$((i + 1)) ;;
          *) args+=("$a") ;;
        esac
      done
      exec "$REAL_DOCKER" build "${args[@]}"
    fi
    ;;
  pull)
    image=""
    for ((i = 2; i <= $#; i++)); do
      a="${!i}"
      case "$a" in
        --platform) i=$((i + 1)) ;;
        -*) ;;
        *) image="$a"; break ;;
      esac
    done
    if [[ -n "$image" ]] && "$REAL_DOCKER" image inspect "$image" >/dev/null 2>&1; then
      echo "docker-wrapper: $image exists locally, skipping pull" >&2
      exit 0
    fi
    ;;
esac

exec "$REAL_DOCKER" "$@"
