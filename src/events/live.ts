// Live updates for signed-in browsers: one Server-Sent Events stream per open page, fed from the database's
// NOTIFY channel `user_events` (payload: a user id). `notify()` sends it inside the transaction that stores the
// notification, so it arrives only after the commit, in every process on PostgreSQL and in this one on PGlite.
import type { Database } from "../core/db";
import type { Logger } from "../core/logger";

/** The NOTIFY channel telling every process that something changed for a user. */
export const USER_EVENTS_CHANNEL = "user_events";

/**
 * The NOTIFY channel telling every process that a task or project changed (payload: `task:<id>`, `project:<id>`,
 * space-separated); streams that follow the topic get a `changed` event and their page reloads its content.
 */
export const TOPIC_EVENTS_CHANNEL = "topic_events";

/** A topic a page may follow: one task or one project. */
export const LIVE_TOPIC = /^(task|project):[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** One SSE message: `event` name and its JSON data. */
export interface LiveMessage {
  event: string;
  data: unknown;
}

/** What a domain sends a user after a change: computed once per change, shared by the user's open streams. */
export type Snapshot = (userId: string) => Promise<LiveMessage[]>;

/** One open stream as the hub keeps it (the HTTP stream itself costs the server ~40 KiB: bench/live.ts). */
interface Client {
  userId: string;
  /** Task and project topics the page follows (already authorized). */
  topics: readonly string[];
  send(text: string): void;
  /** Still allowed? (the session may have ended); false closes the stream. */
  check(): Promise<boolean>;
  close(): void;
}

const encoder = new TextEncoder();

/** Renders one SSE message. */
export function sseMessage(m: LiveMessage): string {
  return `event: ${m.event}\ndata: ${JSON.stringify(m.data)}\n\n`;
}

/**
 * The open streams of this process by user, and the listener that wakes them (started with the first stream).
 * Bursts of changes for one user are coalesced into one snapshot.
 */
export class LiveHub {
  private readonly byUser = new Map<string, Set<Client>>();
  private readonly byTopic = new Map<string, Set<Client>>();
  private readonly dirtyTopics = new Set<string>();
  private unlisten: Promise<() => Promise<void>> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private readonly dirty = new Set<string>();
  private flushing: Promise<void> | undefined;
  private beating = false;
  private readonly providers: Snapshot[] = [];

  constructor(
    private readonly database: Database,
    private readonly log: Logger,
    /** Heartbeat (and session re-check) interval, and how long a burst of changes is gathered; read at first use. */
    readonly opts: { heartbeatMs?: number; coalesceMs?: number } = {},
  ) {}

  /** Adds what a domain sends on every change (the notifications domain: the bell). */
  provide(fn: Snapshot) {
    this.providers.push(fn);
  }

  /** Open streams in this process. */
  get size(): number {
    let n = 0;
    for (const set of this.byUser.values()) n += set.size;
    return n;
  }

  /**
   * Opens a stream for `userId`: it starts with the current snapshot, then gets one after each change. Every
   * heartbeat asks `check` whether the caller may still listen (sign-out, expiry) and closes the stream if not.
   */
  open(
    userId: string,
    check: () => Promise<boolean>,
    signal?: AbortSignal,
    topics: readonly string[] = [],
  ): ReadableStream<Uint8Array> {
    let client: Client | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start: async (controller) => {
        let closed = false;
        client = {
          userId,
          topics,
          check,
          send: (text) => {
            if (closed || !text) return;
            try {
              controller.enqueue(encoder.encode(text));
            } catch {
              client?.close(); // the client went away without the stream noticing yet
            }
          },
          close: () => {
            if (closed) return;
            closed = true;
            this.remove(client!);
            try {
              controller.close();
            } catch {
              // the client went away first
            }
          },
        };
        signal?.addEventListener("abort", () => client?.close());
        this.add(client);
        client.send("retry: 3000\n\n");
        // Listening first: a change committed while the first snapshot is read still reaches the stream.
        await this.listening();
        try {
          client.send((await this.snapshot(userId)).map(sseMessage).join(""));
        } catch (err) {
          this.log.warn("live snapshot failed", { userId, err });
        }
      },
      cancel: () => client?.close(),
    });
    return stream;
  }

  /** Sends the user's snapshot to their open streams in this process now (the NOTIFY handler calls this). */
  changed(userId: string) {
    if (!this.byUser.has(userId)) return;
    this.dirty.add(userId);
    this.scheduleFlush();
  }

  /** Tells the streams following any of `topics` (space-separated, as NOTIFY carries them) that it changed. */
  topicChanged(topics: string) {
    for (const t of topics.split(" ")) if (this.byTopic.has(t)) this.dirtyTopics.add(t);
    if (this.dirtyTopics.size > 0) this.scheduleFlush();
  }

  /** Closes every stream and stops listening (shutdown: open streams would otherwise hold the server open). */
  async close() {
    for (const set of [...this.byUser.values()]) for (const c of [...set]) c.close();
    await this.stopListening();
  }

  private scheduleFlush() {
    this.flushing ??= Bun.sleep(this.opts.coalesceMs ?? 20)
      .then(() => this.flush())
      .finally(() => {
        this.flushing = undefined;
        if (this.dirty.size > 0 || this.dirtyTopics.size > 0) this.scheduleFlush(); // changes during the flush
      });
  }

  private async snapshot(userId: string): Promise<LiveMessage[]> {
    return (await Promise.all(this.providers.map((fn) => fn(userId)))).flat();
  }

  private async flush() {
    const topics = [...this.dirtyTopics];
    this.dirtyTopics.clear();
    for (const topic of topics) {
      const text = sseMessage({ event: "changed", data: { topic } });
      for (const c of this.byTopic.get(topic) ?? []) c.send(text);
    }
    const users = [...this.dirty];
    this.dirty.clear();
    for (const userId of users) {
      const clients = this.byUser.get(userId);
      if (!clients) continue;
      try {
        const text = (await this.snapshot(userId)).map(sseMessage).join("");
        for (const c of clients) c.send(text);
      } catch (err) {
        this.log.warn("live snapshot failed", { userId, err });
      }
    }
  }

  private add(c: Client) {
    let set = this.byUser.get(c.userId);
    if (!set) {
      set = new Set();
      this.byUser.set(c.userId, set);
    }
    set.add(c);
    for (const t of c.topics) {
      let followers = this.byTopic.get(t);
      if (!followers) {
        followers = new Set();
        this.byTopic.set(t, followers);
      }
      followers.add(c);
    }
    this.heartbeat ??= setInterval(() => void this.beat(), this.opts.heartbeatMs ?? 20_000);
  }

  private remove(c: Client) {
    const set = this.byUser.get(c.userId);
    set?.delete(c);
    if (set?.size === 0) this.byUser.delete(c.userId);
    for (const t of c.topics) {
      const followers = this.byTopic.get(t);
      followers?.delete(c);
      if (followers?.size === 0) this.byTopic.delete(t);
    }
    if (this.byUser.size === 0) {
      // The listener stays: one idle LISTEN per process costs less than starting it again for the next page.
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
  }

  /** Keeps proxies from closing idle streams, and closes the ones whose session ended. */
  private async beat() {
    if (this.beating) return; // the previous round is still checking sessions
    this.beating = true;
    try {
      for (const set of [...this.byUser.values()]) {
        for (const c of [...set]) {
          // A failed check (database briefly away) keeps the stream: closing every page at once would only
          // make them all reconnect together.
          const ok = await c.check().catch(() => true);
          if (ok) c.send(": heartbeat\n\n");
          else c.close();
        }
      }
    } finally {
      this.beating = false;
    }
  }

  private listening() {
    this.unlisten ??= Promise.all([
      this.database.listen(USER_EVENTS_CHANNEL, (userId) => this.changed(userId)),
      this.database.listen(TOPIC_EVENTS_CHANNEL, (topics) => this.topicChanged(topics)),
    ]).then((stops) => async () => {
      for (const stop of stops) await stop();
    });
    return this.unlisten.catch((err) => {
      this.unlisten = undefined;
      this.log.error("cannot listen for live updates", { err });
    });
  }

  private async stopListening() {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    const pending = this.unlisten;
    this.unlisten = undefined;
    if (pending) await (await pending.catch(() => async () => {}))();
  }
}
