/**
 * Group commit: items submitted in the same turn of the event loop, or while the previous flush runs, are written
 * by one flush. A commit per item would cap a busy process at the disk's commit rate.
 */
export class GroupCommit<T, R> {
  private pending: { item: T; resolve: (r: R) => void; reject: (err: unknown) => void }[] = [];
  private flushing: Promise<void> | undefined;

  /**
   * `flush` returns one result per item, in order; `max` items at most go in one flush. `gather`, when given, is
   * awaited before each flush takes its items (to let items that are about to be submitted join it).
   */
  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly max: number,
    private readonly gather?: () => Promise<void>,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything submitted so far is written (or failed). */
  async drain() {
    while (this.flushing) await this.flushing;
  }

  private schedule() {
    if (this.flushing) return;
    this.flushing = new Promise<void>((r) => setImmediate(r))
      .then(() => this.run())
      .finally(() => {
        this.flushing = undefined;
        if (this.pending.length > 0) this.schedule(); // arrived while the last flush returned
      });
  }

  private async run() {
    while (this.pending.length > 0) {
      if (this.gather) await this.gather();
      const batch = this.pending.splice(0, this.max);
      try {
        const results = await this.flush(batch.map((b) => b.item));
        for (let i = 0; i < batch.length; i++) batch[i].resolve(results[i]);
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
  }
}
