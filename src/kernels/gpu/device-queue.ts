import type { GpuStorage } from './storage.js';

/**
 * An in-order queue of kernel launches, like a CUDA stream, behind the synchronous engine. An op
 * enqueues its launch and returns at once with a pending output. A launch that can go now (its
 * shader is built, its inputs exist, nothing waits before it) is submitted on the spot — the steady
 * state of a training loop. The rest wait in order; an asynchronous drain builds each shader on first
 * use and submits the launches behind it. A launch holds a use of every input storage, so a `dispose`
 * in the meantime only marks it.
 */
export interface QueuedLaunch {
  /** Storages the launch reads (retained while it waits). */
  readonly inputs: readonly GpuStorage[];
  /** The storages the launch produces (pending until it runs). */
  readonly outputs: readonly GpuStorage[];
  /** Whether `submitNow` can run (shader built, every input produced). */
  canSubmitNow(): boolean;
  /** Submits synchronously and resolves the output. */
  submitNow(): void;
  /** Builds the shader on first use, then submits and resolves the output. */
  submitLater(): Promise<void>;
}

export class DeviceQueue {
  private readonly waiting: QueuedLaunch[] = [];
  private draining: Promise<void> | null = null;
  private failure: Error | null = null;

  /** Launches waiting behind a shader build. */
  get length(): number {
    return this.waiting.length;
  }

  /** Runs `launch` now if nothing waits and it can, else enqueues it. */
  push(launch: QueuedLaunch): void {
    if (this.failure) {
      throw new Error(`gpu backend (webgpu): the device queue stopped at an earlier kernel error (await ready() to clear it): ${this.failure.message}`);
    }
    for (const s of launch.inputs) s.retain();
    if (this.waiting.length === 0 && launch.canSubmitNow()) {
      try {
        launch.submitNow();
      } finally {
        for (const s of launch.inputs) s.unretain();
      }
      return;
    }
    this.waiting.push(launch);
    this.draining ??= this.drain();
  }

  /**
   * Resolves when every launch enqueued so far has been submitted; rejects with the error that
   * stopped the queue (and clears it, so the device can be used again).
   */
  async flush(): Promise<void> {
    await this.settle();
    if (this.failure) {
      const e = this.failure;
      this.failure = null;
      throw e;
    }
  }

  /** Resolves when nothing waits any more (launches submitted, or failed); never rejects. */
  async settle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        const launch = this.waiting[0]!;
        try {
          if (launch.canSubmitNow()) launch.submitNow();
          else await launch.submitLater();
        } catch (e) {
          this.stop(e instanceof Error ? e : new Error(String(e)));
          return;
        }
        this.waiting.shift();
        for (const s of launch.inputs) s.unretain();
      }
    } finally {
      this.draining = null;
    }
  }

  /** A launch failed: it and every launch behind it fail with the error; the queue refuses work until flushed. */
  private stop(error: Error): void {
    this.failure = error;
    for (const launch of this.waiting.splice(0)) {
      for (const out of launch.outputs) if (out.pending) out.fail(error);
      for (const s of launch.inputs) s.unretain();
    }
  }
}
