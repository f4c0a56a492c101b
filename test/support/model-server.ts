// A local model server for tests and benchmarks. It speaks two wire formats, so the real AI SDK provider
// packages run end to end against it:
//
// Ollama (https://github.com/ollama/ollama/blob/main/docs/api.md)
//   POST /api/chat   {model, messages:[{role,content}], stream?, format?, options?}
//        stream=false → {model, created_at, message:{role:"assistant",content}, done:true, done_reason:"stop",
//                        total_duration, load_duration, prompt_eval_count, prompt_eval_duration, eval_count,
//                        eval_duration}
//        stream=true  → NDJSON: {model, created_at, message:{role:"assistant",content:"<delta>"}, done:false} …
//                        then a final {…, message:{role:"assistant",content:""}, done:true, done_reason, counts…}
//   POST /api/embed  {model, input: string|string[]} → {model, embeddings:number[][], total_duration,
//                        load_duration, prompt_eval_count}
//   GET  /api/tags   → {models:[{name, model, modified_at, size, digest, details}]}
//   errors           → {error: "message"} with an HTTP status
//
// OpenAI-compatible (https://platform.openai.com/docs/api-reference; served by llama.cpp, vLLM, LM Studio)
//   POST /v1/chat/completions {model, messages, stream?, stream_options?:{include_usage}, response_format?, temperature?}
//        stream=false → {id, object:"chat.completion", created, model, choices:[{index:0, message:{role:"assistant",
//                        content}, logprobs:null, finish_reason:"stop"}], usage:{prompt_tokens, completion_tokens,
//                        total_tokens}}
//        stream=true  → SSE lines `data: {id, object:"chat.completion.chunk", created, model, choices:[{index:0,
//                        delta:{role?,content}, logprobs:null, finish_reason:null}]}` …, a chunk with
//                        finish_reason "stop", a usage chunk (choices:[]) when include_usage, then `data: [DONE]`
//   POST /v1/embeddings {model, input: string|string[]} → {object:"list", data:[{object:"embedding", index,
//                        embedding}], model, usage:{prompt_tokens, total_tokens}}
//   GET  /v1/models  → {object:"list", data:[{id, object:"model", created, owned_by}]}
//   errors           → {error:{message, type, param:null, code:null}} with an HTTP status
//
// Scripting: `server.script(...replies)` queues replies for the next chat calls in order (both formats share
// the queue); when the queue is empty `server.fallback` answers. A reply may be a function of the request.
import { createHash } from "node:crypto";

/** A chat request as received, in either wire format. */
export interface ChatRequest {
  api: "ollama" | "openai";
  model: string;
  messages: { role: string; content: string }[];
  stream: boolean;
  /** Ollama `format` or OpenAI `response_format`, as sent. */
  format: unknown;
  temperature: unknown;
  body: Record<string, unknown>;
}

/** What the server answers to one chat call. */
export interface Reply {
  /** The assistant's text. */
  content?: string;
  /** How to split `content` into stream deltas (default: about 4 words each). */
  chunks?: string[];
  /** Answer with this HTTP error status instead. */
  status?: number;
  error?: string;
  /** Wait before the first byte (the model's own first-token time). */
  delayMs?: number;
  /** Wait between stream chunks. */
  chunkDelayMs?: number;
  promptTokens?: number;
  completionTokens?: number;
}

export type Script = Reply | ((req: ChatRequest) => Reply | Promise<Reply>);

export interface ModelServer {
  url: string;
  /** Ollama provider base (`…/api`) and OpenAI-compatible base (`…/v1`). */
  ollamaUrl: string;
  openaiUrl: string;
  /** Queue replies for the next chat calls. */
  script(...replies: Script[]): void;
  /** Answers chat calls when the queue is empty. */
  fallback: Script;
  /** Returns an embedding for a text (default: a deterministic 32-dim hashed bag of words). */
  embed: (text: string) => number[];
  /** Model names listed by /api/tags and /v1/models. */
  models: string[];
  /** Every request received: path and parsed JSON body. */
  requests: { path: string; body: any }[];
  chats(): ChatRequest[];
  reset(): void;
  stop(): Promise<void>;
}

const words = (s: string) => s.toLowerCase().match(/[a-z0-9]+/g) ?? [];

/** A deterministic embedding: hashed bag of words, L2-normalized. */
export function hashedEmbedding(text: string, dims = 32): number[] {
  const v = new Array<number>(dims).fill(0);
  for (const w of words(text)) {
    const h = createHash("sha256").update(w).digest();
    v[h.readUInt32BE(0) % dims]! += h[4]! & 1 ? 1 : -1;
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

function splitContent(content: string): string[] {
  const parts = content.match(/(?:\S+\s*){1,4}|\s+/g) ?? [];
  return parts.length ? parts : [""];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const textOf = (c: unknown): string =>
  typeof c === "string"
    ? c
    : Array.isArray(c)
      ? c.map((p) => (typeof p === "string" ? p : (p?.text ?? ""))).join("")
      : "";

/** Starts the server on a free loopback port. */
export function startModelServer(): ModelServer {
  const queue: Script[] = [];
  const requests: { path: string; body: any }[] = [];
  const chats: ChatRequest[] = [];
  const state = {
    fallback: { content: "OK" } as Script,
    embed: (t: string) => hashedEmbedding(t),
    models: ["llama3.1:latest", "nomic-embed-text:latest"],
  };

  async function nextReply(req: ChatRequest): Promise<Reply> {
    const s = queue.length ? queue.shift()! : state.fallback;
    return typeof s === "function" ? await s(req) : s;
  }

  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

  async function ollamaChat(body: any): Promise<Response> {
    const req: ChatRequest = {
      api: "ollama",
      model: body.model,
      messages: (body.messages ?? []).map((m: any) => ({ role: m.role, content: textOf(m.content) })),
      stream: body.stream !== false,
      format: body.format,
      temperature: body.temperature ?? body.options?.temperature,
      body,
    };
    chats.push(req);
    const reply = await nextReply(req);
    if (reply.delayMs) await sleep(reply.delayMs);
    if (reply.status) return json({ error: reply.error ?? "scripted failure" }, reply.status);
    const content = reply.content ?? "";
    const counts = {
      total_duration: 1_000_000,
      load_duration: 1000,
      prompt_eval_count: reply.promptTokens ?? 20,
      prompt_eval_duration: 1000,
      eval_count: reply.completionTokens ?? Math.max(1, words(content).length),
      eval_duration: 1000,
    };
    const created_at = new Date().toISOString();
    if (!req.stream) {
      return json({
        model: req.model,
        created_at,
        message: { role: "assistant", content },
        done: true,
        done_reason: "stop",
        ...counts,
      });
    }
    const chunks = reply.chunks ?? splitContent(content);
    const enc = new TextEncoder();
    return new Response(
      new ReadableStream({
        async start(c) {
          for (const [i, delta] of chunks.entries()) {
            if (i > 0 && reply.chunkDelayMs) await sleep(reply.chunkDelayMs);
            const line = { model: req.model, created_at, message: { role: "assistant", content: delta }, done: false };
            c.enqueue(enc.encode(JSON.stringify(line) + "\n"));
          }
          const last = {
            model: req.model,
            created_at,
            message: { role: "assistant", content: "" },
            done: true,
            done_reason: "stop",
            ...counts,
          };
          c.enqueue(enc.encode(JSON.stringify(last) + "\n"));
          c.close();
        },
      }),
      { headers: { "content-type": "application/x-ndjson" } },
    );
  }

  async function openaiChat(body: any): Promise<Response> {
    const req: ChatRequest = {
      api: "openai",
      model: body.model,
      messages: (body.messages ?? []).map((m: any) => ({ role: m.role, content: textOf(m.content) })),
      stream: body.stream === true,
      format: body.response_format,
      temperature: body.temperature,
      body,
    };
    chats.push(req);
    const reply = await nextReply(req);
    if (reply.delayMs) await sleep(reply.delayMs);
    if (reply.status) {
      return json(
        { error: { message: reply.error ?? "scripted failure", type: "server_error", param: null, code: null } },
        reply.status,
      );
    }
    const content = reply.content ?? "";
    const usage = {
      prompt_tokens: reply.promptTokens ?? 20,
      completion_tokens: reply.completionTokens ?? Math.max(1, words(content).length),
      total_tokens: 0,
    };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const id = `chatcmpl-${crypto.randomUUID().slice(0, 8)}`;
    const created = Math.floor(Date.now() / 1000);
    if (!req.stream) {
      return json({
        id,
        object: "chat.completion",
        created,
        model: req.model,
        choices: [{ index: 0, message: { role: "assistant", content }, logprobs: null, finish_reason: "stop" }],
        usage,
      });
    }
    const chunks = reply.chunks ?? splitContent(content);
    const enc = new TextEncoder();
    const frame = (o: unknown) => enc.encode(`data: ${JSON.stringify(o)}\n\n`);
    const base = { id, object: "chat.completion.chunk", created, model: req.model };
    return new Response(
      new ReadableStream({
        async start(c) {
          for (const [i, delta] of chunks.entries()) {
            if (i > 0 && reply.chunkDelayMs) await sleep(reply.chunkDelayMs);
            const d = i === 0 ? { role: "assistant", content: delta } : { content: delta };
            c.enqueue(frame({ ...base, choices: [{ index: 0, delta: d, logprobs: null, finish_reason: null }] }));
          }
          c.enqueue(frame({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }] }));
          if (body.stream_options?.include_usage) c.enqueue(frame({ ...base, choices: [], usage }));
          c.enqueue(enc.encode("data: [DONE]\n\n"));
          c.close();
        },
      }),
      { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } },
    );
  }

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const path = new URL(request.url).pathname;
      let body: any = null;
      if (request.method === "POST") {
        try {
          body = await request.json();
        } catch {
          return json({ error: "invalid JSON body" }, 400);
        }
      }
      requests.push({ path, body });
      const inputs = (b: any): string[] => (Array.isArray(b?.input) ? b.input : [String(b?.input ?? "")]);
      switch (`${request.method} ${path}`) {
        case "POST /api/chat":
          return ollamaChat(body);
        case "POST /api/embed": {
          const list = inputs(body);
          return json({
            model: body.model,
            embeddings: list.map(state.embed),
            total_duration: 1000,
            load_duration: 100,
            prompt_eval_count: list.reduce((n, t) => n + words(t).length, 0),
          });
        }
        case "GET /api/tags":
          return json({
            models: state.models.map((name) => ({
              name,
              model: name,
              modified_at: "2026-01-01T00:00:00Z",
              size: 1,
              digest: createHash("sha256").update(name).digest("hex"),
              details: { format: "gguf", family: "llama", parameter_size: "8B", quantization_level: "Q4_K_M" },
            })),
          });
        case "POST /v1/chat/completions":
          return openaiChat(body);
        case "POST /v1/embeddings": {
          const list = inputs(body);
          const tokens = list.reduce((n, t) => n + words(t).length, 0);
          return json({
            object: "list",
            data: list.map((t, index) => ({ object: "embedding", index, embedding: state.embed(t) })),
            model: body.model,
            usage: { prompt_tokens: tokens, total_tokens: tokens },
          });
        }
        case "GET /v1/models":
          return json({
            object: "list",
            data: state.models.map((id) => ({ id, object: "model", created: 1_700_000_000, owned_by: "local" })),
          });
        default:
          return json({ error: `no route ${request.method} ${path}` }, 404);
      }
    },
  });

  const url = `http://127.0.0.1:${server.port}`;
  return {
    url,
    ollamaUrl: `${url}/api`,
    openaiUrl: `${url}/v1`,
    script: (...replies) => {
      queue.push(...replies);
    },
    get fallback() {
      return state.fallback;
    },
    set fallback(s: Script) {
      state.fallback = s;
    },
    get embed() {
      return state.embed;
    },
    set embed(fn: (t: string) => number[]) {
      state.embed = fn;
    },
    get models() {
      return state.models;
    },
    set models(m: string[]) {
      state.models = m;
    },
    requests,
    chats: () => chats,
    reset: () => {
      queue.length = 0;
      requests.length = 0;
      chats.length = 0;
    },
    stop: async () => {
      await server.stop(true);
    },
  };
}
