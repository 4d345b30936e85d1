#!/usr/bin/env bash
# Soak: SIGKILL the appliance at hundreds of points of software installs (default 300).
# Usage: scripts/soak-update-kill.sh [KILLS]   (about 5.5 s per kill on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
kills="${1:-300}"
npm run build >/dev/null
GATEHOUSE_SOAK_KILLS="$kills" npx vitest run test/updates-crash.test.ts
