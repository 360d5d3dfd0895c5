// A round of background work (the promoter's step, a read of the fleet repo): run at once, then each
// interval after the previous round ended, so rounds never overlap, on a timer that never keeps the
// hub's process alive. stop() waits for a round in flight, so what the round uses may be closed next.

export class Rounds {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;

  /** `round` handles its own errors: one that throws ends nothing but that round. */
  constructor(
    private readonly round: () => Promise<unknown>,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.round()
        .catch(() => undefined)
        .finally(() => this.schedule(this.intervalMs));
    }, delay);
    this.timer.unref();
  }
}
