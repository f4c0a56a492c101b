// A real SMTP server in its own process (the `smtp-server` package) for the mail tests and bench. It prints one
// JSON line `{"smtp":<port>,"control":<port>}`, then serves a control API on loopback:
//   GET  /messages   every accepted message: { raw, from, to[], at }
//   GET  /attempts   every DATA it answered: { to[], code }
//   POST /plan       { replies: { "<rcpt>": [451, 250, …] }, delayMs }: the codes answered to DATA for that
//                    recipient in turn (then 250), and a wait before each answer
//   POST /reset      forget messages, attempts and the plan
import { SMTPServer } from "smtp-server";

interface Received {
  raw: string;
  from: string;
  to: string[];
  at: number;
}
let messages: Received[] = [];
let attempts: { to: string[]; code: number }[] = [];
let replies: Record<string, number[]> = {};
let delayMs = 0;

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ["STARTTLS"],
  logger: false,
  size: 10 * 1024 * 1024,
  onAuth(auth, _session, cb) {
    cb(null, { user: auth.username });
  },
  onData(stream, session, cb) {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", async () => {
      const to = session.envelope.rcptTo.map((r) => r.address);
      const planned = replies[to[0] ?? ""];
      const code = planned?.length ? (planned.shift() as number) : 250;
      if (delayMs) await Bun.sleep(delayMs);
      attempts.push({ to, code });
      if (code !== 250) {
        const text = code >= 500 ? "5.1.1 Mailbox unavailable (test plan)" : "4.7.1 Try again later (test plan)";
        const err = Object.assign(new Error(text), { responseCode: code });
        return cb(err);
      }
      const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
      messages.push({ raw: Buffer.concat(chunks).toString("utf8"), from, to, at: Date.now() });
      cb(null, `Message queued as m${messages.length}`);
    });
  },
});

await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
const smtpPort = (server.server.address() as { port: number }).port;

const control = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const path = new URL(req.url).pathname;
    if (req.method === "GET" && path === "/messages") return Response.json(messages);
    if (req.method === "GET" && path === "/attempts") return Response.json(attempts);
    if (req.method === "POST" && path === "/plan") {
      const body = (await req.json()) as { replies?: Record<string, number[]>; delayMs?: number };
      replies = body.replies ?? {};
      delayMs = body.delayMs ?? 0;
      return Response.json({ ok: true });
    }
    if (req.method === "POST" && path === "/reset") {
      messages = [];
      attempts = [];
      replies = {};
      delayMs = 0;
      return Response.json({ ok: true });
    }
    return new Response("not found", { status: 404 });
  },
});

console.log(JSON.stringify({ smtp: smtpPort, control: control.port }));
