import { Elysia } from "elysia";
import { z } from "zod";
import { html, Layout } from "../../../ui/layout";

interface RouteLike {
  method: string;
  path: string;
  hooks?: Record<string, any>;
}

function toJsonSchema(schema: unknown) {
  if (!schema || typeof schema !== "object") return undefined;
  if ((schema as any)["~standard"]?.vendor === "zod") {
    try {
      return z.toJSONSchema(schema as z.ZodType, { unrepresentable: "any" });
    } catch {
      return { type: "object" };
    }
  }
  return schema; // TypeBox schemas are JSON Schema already
}

const ERROR_SCHEMA = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message", "details"],
      properties: { code: { type: "string" }, message: { type: "string" }, details: { type: "object" } },
    },
  },
};

/** Builds an OpenAPI 3.1 document from the routes the app really has (so it cannot drift from them). */
export function buildOpenApi(routes: readonly RouteLike[], version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    if (!r.path.startsWith("/api/") && r.path !== "/health") continue;
    const method = r.method.toLowerCase();
    if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
    const path = r.path.replace(/:(\w+)/g, "{$1}");
    const params = [...r.path.matchAll(/:(\w+)/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    const detail = r.hooks?.detail ?? {};
    const body = toJsonSchema(r.hooks?.body);
    const query = toJsonSchema(r.hooks?.query) as
      | { properties?: Record<string, unknown>; required?: string[] }
      | undefined;
    for (const [name, schema] of Object.entries(query?.properties ?? {})) {
      params.push({ name, in: "query", required: !!query?.required?.includes(name), schema: schema as any });
    }
    paths[path] ??= {};
    paths[path][method] = {
      summary: detail.summary ?? `${r.method} ${r.path}`,
      tags: detail.tags ?? [r.path.split("/")[2] ?? "api"],
      ...(detail.description ? { description: detail.description } : {}),
      parameters: params,
      ...(body ? { requestBody: { required: true, content: { "application/json": { schema: body } } } } : {}),
      responses: {
        "200": { description: "Success" },
        default: { description: "Error envelope", content: { "application/json": { schema: ERROR_SCHEMA } } },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "DevSponsor API", version },
    components: {
      securitySchemes: {
        apiKey: { type: "http", scheme: "bearer", description: "An API key from your profile page." },
        session: { type: "apiKey", in: "cookie", name: "ds_session" },
      },
    },
    security: [{ apiKey: [] }, { session: [] }],
    paths,
  };
}

/** `GET /api/openapi.json` and a readable `/api/docs` page, both generated from the live route table. */
export function openApiRoutes(
  app: { routes: readonly RouteLike[] },
  version = process.env.DEVSPONSOR_VERSION ?? "dev",
) {
  let cached: ReturnType<typeof buildOpenApi> | undefined;
  const doc = () => (cached ??= buildOpenApi(app.routes, version));
  return new Elysia({ name: "openapi" })
    .get("/api/openapi.json", () => doc(), { detail: { summary: "This API's OpenAPI document", tags: ["meta"] } })
    .get("/api/docs", () => {
      const d = doc();
      const ops = Object.entries(d.paths).flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, op]) => ({ path, method, op: op as any })),
      );
      return html(
        <Layout title="API reference">
          <h1>API reference</h1>
          <p>
            Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a>. Authenticate with an API key as{" "}
            <code>Authorization: Bearer …</code>. Errors use <code>{"{ error: { code, message, details } }"}</code>.
          </p>
          {ops.map(({ path, method, op }) => (
            <section class="card">
              <h2>
                <code safe>{`${method.toUpperCase()} ${path}`}</code>
              </h2>
              <p safe>{op.summary}</p>
              {op.requestBody ? (
                <details>
                  <summary>Request body schema</summary>
                  <pre safe>{JSON.stringify(op.requestBody.content["application/json"].schema, null, 2)}</pre>
                </details>
              ) : (
                ""
              )}
            </section>
          ))}
        </Layout>,
      );
    });
}
