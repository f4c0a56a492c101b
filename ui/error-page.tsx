import type { AppError } from "../src/core/errors";
import { Layout } from "./layout";

/** An error as a full page, or as a fragment for htmx to swap in. */
export function ErrorPage({ error, fragment }: { error: AppError; fragment: boolean }): JSX.Element {
  const fields = (error.details.fields ?? {}) as Record<string, string>;
  const body = (
    <div class="flash error" role="alert">
      <strong safe>{error.message}</strong>
      {Object.keys(fields).length ? (
        <ul>
          {Object.entries(fields).map(([k, v]) => (
            <li>
              <code safe>{k}</code>: <span safe>{v}</span>
            </li>
          ))}
        </ul>
      ) : (
        ""
      )}
      <div class="muted">
        <small safe>
          {error.code} · {String(error.status)}
        </small>
      </div>
    </div>
  );
  if (fragment) return body;
  return (
    <Layout title={error.status === 404 ? "Not found" : "Error"}>
      <h1>{error.status === 404 ? "Not found" : "Something is not right"}</h1>
      {body as "safe"}
      <p>
        <a href="/">Back to the start page</a>
      </p>
    </Layout>
  );
}
