#!/bin/bash
# Adds the webgpu benchmark to a gpurun prefix assembled by ../shared/gpu-device/build/assemble.sh:
# the benchmark scripts into app/bench, this folder's run.sh as the prefix's run.sh.
#   PFX=<assembled prefix> FRESH=<built checkout: npm ci && npm run build> bench/gpu-device/add-app.sh
set -euo pipefail
PFX=${PFX:?set PFX to the assembled gpurun prefix}
FRESH=${FRESH:?set FRESH to a built checkout}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -f "$FRESH/dist/gpu/index.js" ] || { echo "add-app: $FRESH/dist is not built (npm run build)" >&2; exit 1; }
[ -f "$FRESH/node_modules/webgpu/dist/linux-x64.dawn.node" ] || { echo "add-app: $FRESH/node_modules/webgpu is missing (npm ci installs it with gpu.js)" >&2; exit 1; }
mkdir -p "$PFX/app/bench"
# The built package again (assemble.sh copies dist; a rebuilt checkout must replace it whole).
rm -rf "$PFX/app/dist"
(cd "$FRESH" && find dist -type f ! -name "*.map" ! -name "*.d.ts" -print0 | xargs -0 cp --parents -t "$PFX/app")
cp "$FRESH/package.json" "$PFX/app/"
cp "$FRESH/bench/gpu-bench.js" "$FRESH/bench/gpu-workloads.js" "$PFX/app/bench/"
cp "$HERE/run.sh" "$PFX/run.sh"
chmod +x "$PFX/run.sh"
echo "add-app: $PFX/run.sh runs bench/gpu-bench.js (dselect-k $(node -p "require('$FRESH/package.json').version"), git $(git -C "$FRESH" rev-parse --short HEAD 2>/dev/null || echo '?'))"
