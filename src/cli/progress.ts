import cliProgress from 'cli-progress';

/** A progress bar with ETA and live loss, or nothing at all when quiet or not on a terminal. */
export interface Progress {
  start(total: number, label: string): void;
  update(value: number, payload: { label?: string; loss?: number; epoch?: string }): void;
  stop(): void;
}

export function progressEnabled(quiet: boolean): boolean {
  return !quiet && process.stdout.isTTY === true && process.stderr.isTTY === true;
}

export function createProgress(enabled: boolean): Progress {
  if (!enabled) return { start() {}, update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: '{label} |{bar}| {percentage}% | epoch {epoch} | loss {loss} | ETA {eta_formatted}',
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 200,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  // Ctrl-C is handled by the command (see interrupt.ts), which stops the bar to put the cursor back.
  let running = false;
  return {
    start(total, label) {
      bar.start(total, 0, { label, loss: '-', epoch: '-' });
      running = true;
    },
    update(value, payload) {
      if (!running) return;
      const p: Record<string, string> = {};
      if (payload.label !== undefined) p['label'] = payload.label;
      if (payload.epoch !== undefined) p['epoch'] = payload.epoch;
      if (payload.loss !== undefined) p['loss'] = Number.isFinite(payload.loss) ? payload.loss.toFixed(4) : String(payload.loss);
      bar.update(value, p);
    },
    stop() {
      if (running) bar.stop();
      running = false;
    },
  };
}
