import type { GateDiagnostics, MMoE, Tensor } from 'dselect-k';
import type { GateSnapshot } from './protocol.js';

/** Gate snapshots are taken at most this often within an epoch (and at every epoch's end). */
const GATE_SNAPSHOT_MS = 120;

/** Each task's gate weights for the rows of x, read back asynchronously (every backend, webgpu included). */
export async function readGates(model: MMoE, x: Tensor): Promise<GateSnapshot[]> {
  return (await model.diagnosticsAsync(x)).map((d: GateDiagnostics) => ({ weights: d.meanWeights, binarySelectors: d.binarySelectorFraction, selected: d.selectedExperts }));
}

/**
 * The live heat map's snapshots while training runs. Training's callbacks are synchronous, so a snapshot
 * is started there (its gate kernels enqueued behind the steps so far) and posted when its readback
 * arrives; one is read at a time, and an epoch's end is never skipped (it waits behind the one in flight).
 */
export class GateSnapshots {
  private inFlight: Promise<void> | null = null;
  private queuedAt: number | null = null;
  private lastTaken = -Infinity;
  private failure: unknown = null;

  constructor(
    private readonly read: () => Promise<GateSnapshot[]>,
    private readonly post: (at: number, gates: GateSnapshot[]) => void,
  ) {}

  /** Takes a snapshot at epoch position `at` unless one is in flight or the last is recent; `force` (an epoch's end) queues it instead. */
  request(at: number, force = false): void {
    if (this.inFlight) {
      if (force) this.queuedAt = at;
      return;
    }
    if (!force && performance.now() - this.lastTaken < GATE_SNAPSHOT_MS) return;
    this.lastTaken = performance.now();
    this.inFlight = this.read().then(
      (gates) => this.post(at, gates),
      (e: unknown) => void (this.failure ??= e),
    ).finally(() => {
      this.inFlight = null;
      const queued = this.queuedAt;
      this.queuedAt = null;
      if (queued !== null && this.failure === null) this.request(queued, true);
    });
  }

  /** After training: waits for the snapshots under way (rethrowing a failed one), then reads the final gates. */
  async final(): Promise<GateSnapshot[]> {
    while (this.inFlight) await this.inFlight;
    if (this.failure !== null) throw this.failure;
    return this.read();
  }
}
