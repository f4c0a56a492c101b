// Starts test/support/smtp-server-process.ts as a child process and reads what it received, parsed by mailparser.
import { join } from "node:path";
import { type ParsedMail, simpleParser } from "mailparser";

/** A received message: the envelope, and the message as a mail client would read it. */
export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  parsed: ParsedMail;
}

/** A running SMTP server process. */
export interface SmtpServerProcess {
  port: number;
  /** The messages it accepted (250), in order. */
  messages(): Promise<ReceivedMail[]>;
  /** Every DATA it answered, with the code. */
  attempts(): Promise<{ to: string[]; code: number }[]>;
  /** The DATA replies per recipient (e.g. `{ "a@x.test": [451, 250] }`) and a delay before each answer. */
  plan(replies: Record<string, number[]>, delayMs?: number): Promise<void>;
  reset(): Promise<void>;
  /** Waits until `n` messages were accepted (throws after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  stop(): Promise<void>;
}

/** Starts a real SMTP server on a loopback port. */
export async function startSmtpServer(): Promise<SmtpServerProcess> {
  const proc = Bun.spawn(["bun", join(import.meta.dir, "smtp-server-process.ts")], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the SMTP server process exited before it listened");
    line += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const ports = JSON.parse(line.split("\n")[0]) as { smtp: number; control: number };
  const control = `http://127.0.0.1:${ports.control}`;
  const messages = async () => {
    const raw = (await (await fetch(`${control}/messages`)).json()) as { raw: string; from: string; to: string[] }[];
    return Promise.all(raw.map(async (m) => ({ ...m, parsed: await simpleParser(m.raw) })));
  };
  return {
    port: ports.smtp,
    messages,
    attempts: async () => (await (await fetch(`${control}/attempts`)).json()) as { to: string[]; code: number }[],
    async plan(replies, delayMs = 0) {
      await fetch(`${control}/plan`, { method: "POST", body: JSON.stringify({ replies, delayMs }) });
    },
    async reset() {
      await fetch(`${control}/reset`, { method: "POST" });
    },
    async waitFor(n, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const count = ((await (await fetch(`${control}/messages`)).json()) as unknown[]).length;
        if (count >= n) return messages();
        if (Date.now() > deadline) throw new Error(`the SMTP server got ${count} messages, not ${n}`);
        await Bun.sleep(50);
      }
    },
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}
