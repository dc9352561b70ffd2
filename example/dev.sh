#!/usr/bin/env bash
# `npm run dev`: make Docker ready where needed (see ../scripts/dev-setup.sh), then run the Worker locally.
set -euo pipefail
cd "$(dirname "$0")"
eval "$(bash ../scripts/dev-setup.sh)"
exec npx wrangler dev --ip 127.0.0.1 --port "${PORT:-8787}" "$@"
