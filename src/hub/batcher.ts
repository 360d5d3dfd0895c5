// Group commit: reports that arrive while a transaction is being written wait and go together in
// the next one. An idle hub writes each report at once; a busy one writes many per commit, which
// is what lets one PostgreSQL take thousands of reports a second. A report is answered only after
// its transaction committed, so an answer always means stored.

export class Batcher<In, Out> {
  private queue: { item: In; resolve: (o: Out) => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;

  constructor(
    private readonly write: (items: In[]) => Promise<Out[]>,
    private readonly alone: {
      /** How one item is written again alone after its batch failed; `write` when not given. */
      write?: (item: In) => Promise<Out>;
      /** Whether an error of a batch of one is worth a second try alone (by `alone.write`). */
      retry?: (err: unknown) => boolean;
    } = {},
    private readonly maxBatch = 500,
  ) {}

  private writeOne(item: In): Promise<Out> {
    return this.alone.write ? this.alone.write(item) : this.write([item]).then((out) => out[0]!);
  }

  /** Number of items waiting. */
  get waiting(): number {
    return this.queue.length;
  }

  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          const out = await this.write(batch.map((b) => b.item));
          batch.forEach((b, i) => b.resolve(out[i]!));
        } catch (err) {
          if (batch.length === 1 && !this.alone.retry?.(err)) batch[0]!.reject(err);
          // One item may be what failed the transaction: each alone, so only that one fails.
          else
            for (const b of batch)
              await this.writeOne(b.item).then(
                (o) => b.resolve(o),
                (e: unknown) => b.reject(e),
              );
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
