#!/bin/bash
# gpurun (webgpu): runs dselect-k's gpu benchmark (bench/gpu-bench.js) on this machine's GPU: the
# webgpu mode (GPU.js WGSL compute shaders through Dawn, the npm package `webgpu`, on the NVIDIA Vulkan
# driver) and the headlessgl mode (ANGLE over NVIDIA's GLX under the bundled Xvfb), each against the
# cpu backend. Adapted from ../shared/gpu-device/run.sh (same bundle layout: bin/node, bin/Xvfb, lib/,
# app/), whose headless-gl probe it keeps to pick the GL environment.
#   bash run.sh OUTDIR        (GPURUN_BUDGET=seconds caps the whole run; default 420)
#   GPURUN_BENCH_ARGS='--quick' for a smoke run (default: the full sizes)
# Steps, each with its own timeout; all output also goes to OUTDIR/log.txt:
#   a) machine + nvidia-smi   b) headless-gl probe: NVIDIA GLX, then Mesa (if probe-gl.cjs is bundled)
#   c) bench/gpu-bench.js --modes webgpu,headlessgl in the GPU environment (Vulkan ICD, NVIDIA GLX)
#      → OUTDIR/gpu-bench.json; its exit status says: 0 ran and matched, 2 a mode could not start (why
#      is in the log and the JSON), 3 a gpu result did not match the cpu backend
set -u
OUT=${1:?usage: bash run.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PFX=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG="$OUT/log.txt"
START=$(date +%s)
BUDGET=${GPURUN_BUDGET:-420}
DEADLINE=$((START + BUDGET))
TMP=$(mktemp -d /tmp/gpurun.XXXXXX)
NODE="$PFX/bin/node"

log() { echo "[gpurun $(date +%H:%M:%S) +$(($(date +%s) - START))s] $*" | tee -a "$LOG"; }
# seconds for a step: its cap, cut so that `reserve` seconds stay for the steps after it (at least 5)
allot() {
  local cap=$1 reserve=$2 left
  left=$((DEADLINE - $(date +%s) - reserve))
  ((left < cap)) && cap=$left
  ((cap < 5)) && cap=5
  echo "$cap"
}
# runstep NAME SECONDS CMD...: runs with a timeout (TERM, then KILL 5 s later), output to the log
runstep() {
  local name=$1 t=$2 s rc
  shift 2
  log "=== $name (timeout ${t}s)"
  s=$(date +%s)
  timeout -k 5 "$t" "$@" < /dev/null 2>&1 | tee -a "$LOG"
  rc=${PIPESTATUS[0]}
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && log "--- $name: TIMED OUT"
  log "--- $name: rc=$rc after $(($(date +%s) - s))s"
  return 0
}

log "gpurun bundle at $PFX, output to $OUT, budget ${BUDGET}s"
[ -f "$PFX/MANIFEST.txt" ] && head -5 "$PFX/MANIFEST.txt" | tee -a "$LOG"

# ---------- environments ----------
NVLIB=""
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "$d" ] && NVLIB="${NVLIB:+$NVLIB:}$d"; done
ICD=""
for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/*.json; do
  [ -f "$f" ] && { ICD=$f; break; }
done
BASEENV=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="${HOME:-/root}" TMPDIR=/tmp)
MESAENV=("${BASEENV[@]}" LD_LIBRARY_PATH="$PFX/lib" LIBGL_DRIVERS_PATH="$PFX/lib/dri")
NVENV=("${BASEENV[@]}" LD_LIBRARY_PATH="${NVLIB:+$NVLIB:}$PFX/lib" LIBGL_DRIVERS_PATH="$PFX/lib/dri" __GLX_VENDOR_LIBRARY_NAME=nvidia)
[ -n "$ICD" ] && NVENV+=(VK_DRIVER_FILES="$ICD" VK_ICD_FILENAMES="$ICD")
log "NVIDIA libs: ${NVLIB:-none found}; Vulkan ICD: ${ICD:-none found}"

# ---------- X server (Xvfb from the bundle; its GLX runs on the bundled Mesa swrast) ----------
# Xvfb runs xkbcomp from the compiled-in /usr/bin: install a wrapper there only if none works.
if ! /usr/bin/xkbcomp -version > /dev/null 2>&1; then
  if printf '#!/bin/sh\nLD_LIBRARY_PATH=%s/lib exec %s/bin/xkbcomp "$@"\n' "$PFX" "$PFX" > /usr/bin/xkbcomp 2> /dev/null && chmod 755 /usr/bin/xkbcomp; then
    log "installed /usr/bin/xkbcomp wrapper -> $PFX/bin/xkbcomp"
  else
    log "WARNING: no working /usr/bin/xkbcomp and cannot install one (Xvfb may fail to start)"
  fi
else
  log "/usr/bin/xkbcomp works: $(/usr/bin/xkbcomp -version 2>&1 | head -1)"
fi
mkdir -p /tmp/.X11-unix 2> /dev/null && chmod 1777 /tmp/.X11-unix 2> /dev/null
XPID=""
for n in $(seq 97 140); do
  [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] && continue
  env -i "${MESAENV[@]}" "$PFX/bin/Xvfb" ":$n" -screen 0 1280x1024x24 -nolisten tcp -fp built-ins \
    -xkbdir "$PFX/share/X11/xkb" +extension GLX -noreset > "$TMP/xvfb.log" 2>&1 &
  XPID=$!
  for _ in $(seq 1 50); do
    [ -S "/tmp/.X11-unix/X$n" ] && break
    kill -0 "$XPID" 2> /dev/null || break
    sleep 0.2
  done
  if [ -S "/tmp/.X11-unix/X$n" ] && kill -0 "$XPID" 2> /dev/null; then
    DISPLAYNUM=$n
    break
  fi
  log "Xvfb :$n did not start:"
  tee -a "$LOG" < "$TMP/xvfb.log"
  kill "$XPID" 2> /dev/null
  XPID=""
  [ "$n" -ge 99 ] && break # two tries are enough
done
cleanup() {
  [ -n "$XPID" ] && kill "$XPID" 2> /dev/null && wait "$XPID" 2> /dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
if [ -n "$XPID" ]; then
  sleep 0.5
  log "Xvfb pid $XPID on :$DISPLAYNUM ($PFX/bin/Xvfb); its output so far:"
  tee -a "$LOG" < "$TMP/xvfb.log"
  MESAENV+=(DISPLAY=":$DISPLAYNUM")
  NVENV+=(DISPLAY=":$DISPLAYNUM")
else
  log "ERROR: no X server: the headless-gl steps will fail (cpu rows still run)"
fi

# ---------- a) machine ----------
{
  echo "uname: $(uname -srm)"
  grep -m1 PRETTY_NAME /etc/os-release 2> /dev/null
  echo "glibc: $(ldd --version 2> /dev/null | head -1)"
  echo "cpus: $(nproc) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  SMI=$(command -v nvidia-smi || ls /usr/local/nvidia/bin/nvidia-smi 2> /dev/null)
  if [ -n "$SMI" ]; then
    timeout 15 "$SMI" -L
    timeout 15 "$SMI" --query-gpu=name,driver_version,memory.total,memory.used,utilization.gpu,clocks.sm --format=csv
  else
    echo "nvidia-smi: not found"
  fi
  [ -n "$NVLIB" ] && ls "${NVLIB%%:*}" | grep -E 'GLX|EGL|GLES|glcore|tls|vulkan|libGL' | tr '\n' ' ' && echo
} 2>&1 | tee -a "$LOG"

# ---------- b) headless-gl probes ----------
if [ -f "$PFX/probe-gl.cjs" ]; then
  runstep "b1 headless-gl probe, NVIDIA GLX (__GLX_VENDOR_LIBRARY_NAME=nvidia)" "$(allot 30 330)" \
    env -i "${NVENV[@]}" "$NODE" "$PFX/probe-gl.cjs" nvidia "$TMP/probe-gl-nvidia.json"
  runstep "b2 headless-gl probe, Mesa (plain)" "$(allot 30 310)" \
    env -i "${MESAENV[@]}" "$NODE" "$PFX/probe-gl.cjs" mesa "$TMP/probe-gl-mesa.json"
else
  log "b: probe-gl.cjs not bundled: no headless-gl probe (the benchmark's headlessgl row names its driver itself)"
fi

renderer() { [ -f "$1" ] && "$NODE" -e 'const j=require(process.argv[1]);process.stdout.write(String(j.GL_RENDERER||""))' "$1" 2> /dev/null; }
isnv() { echo "$1" | grep -qiE 'nvidia|h200|h100|tesla|geforce|quadro' && ! echo "$1" | grep -qiE 'llvmpipe|softpipe|swrast'; }
NVR=$(renderer "$TMP/probe-gl-nvidia.json")
MR=$(renderer "$TMP/probe-gl-mesa.json")
if ! isnv "$NVR" && [ -n "$NVLIB" ]; then
  # second try: the bundle's glvnd ahead of the driver folder (in case that folder carries its own GL loaders)
  NVENV2=("${NVENV[@]}" LD_LIBRARY_PATH="$PFX/lib:$NVLIB")
  runstep "b1' headless-gl probe, NVIDIA GLX, bundle's glvnd first" "$(allot 30 300)" \
    env -i "${NVENV2[@]}" "$NODE" "$PFX/probe-gl.cjs" nvidia-glvnd-first "$TMP/probe-gl-nvidia2.json"
  NVR2=$(renderer "$TMP/probe-gl-nvidia2.json")
  if isnv "$NVR2"; then NVENV=("${NVENV2[@]}"); NVR=$NVR2; fi
fi
HW=0
if isnv "$NVR"; then
  HW=1
  log "headless-gl: NVIDIA GLX, renderer '$NVR'"
else
  log "headless-gl: NOT on the GPU (NVIDIA renderer '${NVR:-none}'; Mesa '${MR:-none}'): its rows will name a software driver"
fi
# One environment for both modes: Dawn finds the NVIDIA Vulkan ICD (VK_ICD_FILENAMES), headless-gl NVIDIA's GLX.
GENV=("${NVENV[@]}")


# ---------- c) the benchmark ----------
T=$(allot 400 10)
runstep "c gpu-bench.js --modes webgpu,headlessgl ${GPURUN_BENCH_ARGS:-}" "$T" \
  env -i "${GENV[@]}" "$NODE" "$PFX/app/bench/gpu-bench.js" --modes webgpu,headlessgl --json "$OUT/gpu-bench.json" ${GPURUN_BENCH_ARGS:-}

# ---------- wrap up ----------
"$NODE" -e '
const fs=require("fs"); const [dir,out]=process.argv.slice(1); const o={};
for (const f of ["probe-gl-nvidia","probe-gl-nvidia2","probe-gl-mesa"]) { try { o[f]=JSON.parse(fs.readFileSync(dir+"/"+f+".json","utf8")); } catch (e) { o[f]={missing:String(e.message)}; } }
fs.writeFileSync(out, JSON.stringify(o,null,2));' "$TMP" "$OUT/probes.json"
log "Xvfb output:"
tee -a "$LOG" < "$TMP/xvfb.log"
log "done in $(($(date +%s) - START))s; files: $(cd "$OUT" && ls | tr '\n' ' ')"
