// PyTorch CPU as a peer: Debian's python3-torch (/usr/bin/python3 by default) run as a subprocess,
// with this environment's OpenBLAS tuning variables (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE) removed for
// that subprocess only. Missing torch skips the rows with a printed notice. Data goes in and results
// come back as raw float32 files in a temporary directory; the script times its own calls and the
// caller checks the result against the float64 reference before the timing counts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The environment PyTorch runs in: ours minus the OpenBLAS tuning variables. */
export function torchEnv() {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

/** { python, version } when `python` imports torch; null (with a notice) otherwise. */
export function loadTorch(log, python = '/usr/bin/python3') {
  const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { env: torchEnv(), encoding: 'utf8' });
  if (probe.status !== 0) {
    log(`PyTorch: rows skipped (${python} cannot import torch${probe.error ? `: ${probe.error.message}` : ''})`);
    return null;
  }
  return { python, version: probe.stdout.trim() };
}

/**
 * A PyTorch implementation of a workload (see lib/workload.js): `spec` is the op for
 * bench/torch-ops.py ({ op, ...parameters }), `inputs` the named float32 arrays it reads.
 */
export function torchImpl(torch, { threads = 1, spec, inputs, note = '' }) {
  if (!torch) return [];
  return [
    {
      name: `pytorch${threads > 1 ? ` ×${threads} threads` : ''}`,
      kind: 'pytorch',
      threads,
      note: `PyTorch ${torch.version} CPU, ${threads} thread${threads > 1 ? 's' : ''}${note ? `, ${note}` : ''}`,
      external(measureOpts) {
        return runTorchOp(torch, { ...spec, threads, maxTime: measureOpts.maxTime, minSamples: measureOpts.minSamples }, inputs());
      },
    },
  ];
}

/** Runs bench/torch-ops.py on `inputs`; returns { result: Float32Array, medianMs, meanMs, rmePct, samples, cpuMsPerCall }. */
export function runTorchOp(torch, spec, inputs) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dselect-k-torch-'));
  try {
    const files = {};
    for (const [name, data] of Object.entries(inputs)) {
      files[name] = path.join(dir, `${name}.bin`);
      writeFileSync(files[name], Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    }
    const out = path.join(dir, 'out.bin');
    const script = fileURLToPath(new URL('../torch-ops.py', import.meta.url));
    const run = spawnSync(torch.python, [script, JSON.stringify({ ...spec, inputs: files, out })], { env: torchEnv(), encoding: 'utf8', maxBuffer: 1 << 24 });
    if (run.status !== 0) throw new Error(`torch-ops.py failed: ${(run.stderr || run.error?.message || '').trim().split('\n').pop()}`);
    const timing = JSON.parse(run.stdout.trim().split('\n').pop());
    const bytes = readFileSync(out);
    return { result: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), ...timing };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
