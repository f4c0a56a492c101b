// A local server speaking GitHub's REST wire format for the endpoints the App uses, recording every call. App
// endpoints check the App's JWT (RS256 over the key the manifest conversion handed out, `iss` = the App id);
// repository endpoints check an installation token it issued. Response bodies follow GitHub's REST API
// description (the fields of its documented examples that clients read); see test/fixtures/github/README.md.
import { createPublicKey, generateKeyPairSync, randomBytes, verify } from "node:crypto";

/** One API call as the server saw it. */
export interface RecordedCall {
  method: string;
  path: string;
  /** `app` (a valid JWT), `installation:<id>` (a valid token), `none`, or `invalid`. */
  auth: string;
  body: any;
}

/** A repository the fake GitHub knows. */
export interface FakeRepo {
  id: number;
  owner: string;
  name: string;
  private: boolean;
  installationId: number;
  collaborators: Set<string>;
  invitations: Map<number, string>;
}

/** The running server, its state and helpers. */
export interface GitHubServer {
  url: string;
  /** The API base (what the appliance stores as github.apiUrl). */
  apiUrl: string;
  calls: RecordedCall[];
  /** Calls matching `METHOD /path` (path may contain `*` segments). */
  callsTo(route: string): RecordedCall[];
  /** A manifest code GitHub would hand to the redirect URL once the admin confirmed (one use). */
  issueManifestCode(): string;
  app: { id: number; slug: string; webhookSecret: string; pem: string; publicKey: string } | null;
  installations: Map<number, { id: number; account: { login: string; id: number; type: string } }>;
  repos: Map<string, FakeRepo>;
  addRepo(r: Omit<FakeRepo, "collaborators" | "invitations">): FakeRepo;
  /** Tokens issued per installation (the appliance should reuse one until it is about to expire). */
  tokensIssued: number;
  /** How long issued tokens live (GitHub: one hour). */
  tokenTtlMs: number;
  /**
   * Whether git over HTTPS may read repository `name` (owner/repo) with this Authorization header, as github.com
   * decides: a public repository for anyone; a private one for Basic auth whose password is a live installation
   * token of the installation holding it (the user name is ignored, as GitHub does).
   */
  gitAuthorized(name: string, authorization: string | null): boolean;
  stop(): void;
}

const b64url = (b: Buffer) => b.toString("base64url");

/** Starts the fake GitHub on 127.0.0.1 with an ephemeral port. */
export function startGitHubServer(): GitHubServer {
  const calls: RecordedCall[] = [];
  const codes = new Set<string>();
  const tokens = new Map<string, { installationId: number; expiresAt: number }>();
  let nextId = 9000;
  const s: GitHubServer = {
    url: "",
    apiUrl: "",
    calls,
    callsTo(route) {
      const [m, p] = route.split(" ") as [string, string];
      const re = new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]+")}$`);
      return calls.filter((c) => c.method === m && re.test(c.path));
    },
    issueManifestCode() {
      const code = b64url(randomBytes(12));
      codes.add(code);
      return code;
    },
    app: null,
    installations: new Map(),
    repos: new Map(),
    addRepo(r) {
      const repo = { ...r, collaborators: new Set<string>(), invitations: new Map<number, string>() };
      s.repos.set(`${r.owner}/${r.name}`.toLowerCase(), repo);
      return repo;
    },
    tokensIssued: 0,
    tokenTtlMs: 60 * 60_000,
    gitAuthorized(name, authorization) {
      const repo = s.repos.get(name.toLowerCase());
      if (repo && !repo.private) return true;
      const m = /^basic (.+)$/i.exec(authorization ?? "");
      if (!repo || !m) return false;
      const decoded = Buffer.from(m[1]!, "base64").toString();
      const t = tokens.get(decoded.slice(decoded.indexOf(":") + 1));
      return !!t && t.expiresAt > Date.now() && t.installationId === repo.installationId;
    },
    stop: () => server.stop(true),
  };

  const json = (status: number, body?: unknown) =>
    body === undefined
      ? new Response(null, { status })
      : new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8" } });
  const error = (status: number, message: string) =>
    json(status, { message, documentation_url: "https://docs.github.com/rest", status: String(status) });

  function checkJwt(token: string): boolean {
    if (!s.app) return false;
    const [h, p, sig] = token.split(".");
    if (!h || !p || !sig) return false;
    const ok = verify(
      "RSA-SHA256",
      Buffer.from(`${h}.${p}`),
      createPublicKey(s.app.publicKey),
      Buffer.from(sig, "base64url"),
    );
    if (!ok) return false;
    const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as {
      iss?: string | number;
      exp?: number;
      iat?: number;
    };
    const now = Math.floor(Date.now() / 1000);
    return (
      String(claims.iss) === String(s.app.id) && (claims.exp ?? 0) > now && (claims.exp ?? 0) - (claims.iat ?? 0) <= 660
    );
  }

  function authOf(req: Request): string {
    const h = req.headers.get("authorization") ?? "";
    const m = /^(bearer|token) (.+)$/i.exec(h);
    if (!m) return "none";
    const value = m[2]!;
    if (value.split(".").length === 3) return checkJwt(value) ? "app" : "invalid";
    const t = tokens.get(value);
    return t && t.expiresAt > Date.now() ? `installation:${t.installationId}` : "invalid";
  }

  const repoJson = (r: FakeRepo) => ({
    id: r.id,
    node_id: `R_${r.id}`,
    name: r.name,
    full_name: `${r.owner}/${r.name}`,
    private: r.private,
    owner: { login: r.owner, id: 1000 + r.installationId, type: "Organization" },
    html_url: `https://github.com/${r.owner}/${r.name}`,
  });

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname.replace(/^\/api\/v3/, "");
    const text = req.method === "GET" || req.method === "DELETE" ? "" : await req.text();
    const body = text ? JSON.parse(text) : null;
    const auth = authOf(req);
    calls.push({ method: req.method, path, auth, body });
    // `on(method, pattern, text)`: the match when the method is right and the pattern matches.
    const on = (method: string, re: RegExp, text: string) => (req.method === method ? re.exec(text) : null);

    const conversion = on("POST", /^\/app-manifests\/([^/]+)\/conversions$/, path);
    if (conversion) {
      if (!codes.delete(conversion[1]!)) return error(404, "Not Found");
      const { privateKey, publicKey } = generateKeyPairSync("rsa", {
        modulusLength: 2048,
        privateKeyEncoding: { type: "pkcs1", format: "pem" },
        publicKeyEncoding: { type: "spki", format: "pem" },
      });
      const id = 424242;
      s.app = { id, slug: "devsponsor-test", webhookSecret: b64url(randomBytes(20)), pem: privateKey, publicKey };
      return json(201, {
        id,
        slug: s.app.slug,
        node_id: "MDM6QXBwNTk=",
        owner: { login: "octo-org", id: 1, type: "Organization" },
        name: "DevSponsor test",
        description: "",
        external_url: "https://devsponsor.example",
        html_url: `https://github.com/apps/${s.app.slug}`,
        created_at: "2026-12-03T01:00:00Z",
        updated_at: "2026-12-03T01:00:00Z",
        permissions: { contents: "read", pull_requests: "write", checks: "write", metadata: "read" },
        events: ["pull_request", "push"],
        client_id: "Iv1.8a61f9b3a7aba766",
        client_secret: b64url(randomBytes(20)),
        webhook_secret: s.app.webhookSecret,
        pem: privateKey,
      });
    }

    if (path.startsWith("/app")) {
      if (auth !== "app") return error(401, "A JSON web token could not be decoded");
      if (req.method === "GET" && path === "/app") {
        return json(200, { id: s.app!.id, slug: s.app!.slug, name: "DevSponsor test", owner: { login: "octo-org" } });
      }
      if (req.method === "GET" && path === "/app/installations") {
        return json(
          200,
          [...s.installations.values()].map((i) => ({
            id: i.id,
            account: i.account,
            app_id: s.app!.id,
            target_type: i.account.type,
          })),
        );
      }
      const tokenFor = on("POST", /^\/app\/installations\/(\d+)\/access_tokens$/, path);
      if (tokenFor) {
        const id = Number(tokenFor[1]);
        if (!s.installations.has(id)) return error(404, "Not Found");
        const token = `ghs_${b64url(randomBytes(27))}`;
        const expiresAt = Date.now() + s.tokenTtlMs;
        tokens.set(token, { installationId: id, expiresAt });
        s.tokensIssued++;
        return json(201, {
          token,
          expires_at: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z"),
          permissions: {
            contents: "read",
            pull_requests: "write",
            checks: "write",
            issues: "write",
            administration: "write",
          },
          repository_selection: "selected",
        });
      }
      return error(404, "Not Found");
    }

    const m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)$/.exec(path);
    if (m) {
      const repo = s.repos.get(`${m[1]}/${m[2]}`.toLowerCase());
      if (!repo) return error(404, "Not Found");
      if (auth !== `installation:${repo.installationId}`) return error(401, "Bad credentials");
      const rest = m[3]!;
      const r = /^\/collaborators\/([^/]+)$/.exec(rest);
      if (r) {
        const login = decodeURIComponent(r[1]!).toLowerCase();
        if (req.method === "GET") return json(repo.collaborators.has(login) ? 204 : 404);
        if (req.method === "DELETE") {
          repo.collaborators.delete(login);
          return json(204);
        }
        if (req.method === "PUT") {
          if (repo.collaborators.has(login)) return json(204);
          const id = nextId++;
          repo.invitations.set(id, login);
          return json(201, {
            id,
            node_id: `MDIwOlJlcG9zaXRvcnlJbnZpdGF0aW9uJHtpZH0=`,
            repository: repoJson(repo),
            invitee: { login: decodeURIComponent(r[1]!), id: 5000 + id, type: "User" },
            inviter: { login: `${s.app?.slug}[bot]`, id: 1, type: "Bot" },
            permissions: body?.permission === "push" ? "write" : (body?.permission ?? "write"),
            created_at: new Date().toISOString(),
            expired: false,
            url: `${s.apiUrl}/user/repository_invitations/${id}`,
            html_url: `https://github.com/${repo.owner}/${repo.name}/invitations`,
          });
        }
      }
      const invitation = on("DELETE", /^\/invitations\/(\d+)$/, rest);
      if (invitation) {
        repo.invitations.delete(Number(invitation[1]));
        return json(204);
      }
      if (req.method === "POST" && rest === "/check-runs") {
        if (!body?.name || !body?.head_sha) return error(422, "Validation Failed");
        const id = nextId++;
        return json(201, {
          id,
          head_sha: body.head_sha,
          node_id: `CR_${id}`,
          external_id: body.external_id ?? "",
          url: `${s.apiUrl}/repos/${repo.owner}/${repo.name}/check-runs/${id}`,
          html_url: `https://github.com/${repo.owner}/${repo.name}/runs/${id}`,
          details_url: body.details_url ?? null,
          status: body.status ?? "queued",
          conclusion: body.conclusion ?? null,
          started_at: new Date().toISOString(),
          completed_at: body.completed_at ?? null,
          output: {
            title: body.output?.title ?? null,
            summary: body.output?.summary ?? null,
            text: null,
            annotations_count: 0,
          },
          name: body.name,
          check_suite: { id: 5 },
          app: { id: s.app?.id, slug: s.app?.slug },
          pull_requests: [],
        });
      }
      const checkRun = on("PATCH", /^\/check-runs\/(\d+)$/, rest);
      if (checkRun) {
        return json(200, {
          id: Number(checkRun[1]),
          status: body?.status,
          conclusion: body?.conclusion ?? null,
          name: body?.name,
        });
      }
      const issue = on("POST", /^\/issues\/(\d+)\/comments$/, rest);
      if (issue) {
        const id = nextId++;
        return json(201, {
          id,
          node_id: `IC_${id}`,
          url: `${s.apiUrl}/repos/${repo.owner}/${repo.name}/issues/comments/${id}`,
          html_url: `https://github.com/${repo.owner}/${repo.name}/issues/${issue[1]}#issuecomment-${id}`,
          body: body?.body,
          user: { login: `${s.app?.slug}[bot]`, id: 1, type: "Bot" },
          created_at: new Date().toISOString(),
          updated_at: new Date().toISOString(),
          issue_url: `${s.apiUrl}/repos/${repo.owner}/${repo.name}/issues/${issue[1]}`,
          author_association: "NONE",
        });
      }
    }
    return error(404, "Not Found");
  }

  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handle });
  s.url = `http://127.0.0.1:${server.port}`;
  // GitHub Enterprise Server's layout: the API under /api/v3 (so every call proves the base URL is used).
  s.apiUrl = `${s.url}/api/v3`;
  return s;
}
