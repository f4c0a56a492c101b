import { FieldError } from "../../ui/components";
import { Layout, type Viewer } from "../../ui/layout";
import { LANGUAGES } from "./model";
import type { ExplorePage, ExploreTask, PublicTask } from "./service";

const usd = (n: number) => `$${n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

/** The filters as query parameters, for the pager's links (page left out: the links set it). */
function filterParams(raw: Record<string, string>): URLSearchParams {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(raw)) if (v && k !== "page") p.set(k, v);
  return p;
}

function TaskRow({ t }: { t: ExploreTask }) {
  return (
    <tr>
      <td data-label="Task">
        <a href={`/tasks/${t.id}`} safe>
          {t.title}
        </a>
        <br />
        <small class="muted">
          <a href={`/projects/${t.project.id}`} safe>
            {t.project.title}
          </a>
          {t.project.repository ? <span safe>{` · ${t.project.repository}`}</span> : ""}
        </small>
      </td>
      <td data-label="Language">{t.language ?? "—"}</td>
      <td data-label="Points" class="num" safe>
        {String(t.points)}
      </td>
      <td data-label="Payout" class="num">
        <strong safe>{`${t.payout} ${t.token}`}</strong>
        <br />
        <small class="muted" safe>
          {t.usd === null ? "no price recorded" : `≈ ${usd(t.usd)}`}
        </small>
      </td>
    </tr>
  );
}

/**
 * The explore board: funded open tasks of public projects with filters that are a plain GET form (they work
 * without JavaScript; with htmx the results swap in place and the URL follows).
 */
export function ExploreBoard(props: {
  viewer: Viewer | null;
  csrf?: string;
  board: ExplorePage | null;
  values: Record<string, string>;
  errors?: Record<string, string>;
  tokens: string[];
}) {
  const v = props.values;
  const bad = (name: string) => (props.errors?.[name] ? "true" : undefined);
  const num = (name: string, label: string, step = "1") => (
    <label>
      <span safe>{label}</span>
      <input
        name={name}
        type="number"
        min="0"
        step={step}
        inputmode="decimal"
        value={v[name] ?? ""}
        aria-invalid={bad(name)}
        aria-describedby={bad(name) ? `${name}-error` : undefined}
      />
      <FieldError errors={props.errors} name={name} />
    </label>
  );
  return (
    <Layout title="Explore funded tasks" viewer={props.viewer} csrfToken={props.csrf}>
      <h1>Explore funded tasks</h1>
      <p class="muted">
        Open tasks of funded public projects. The payout is held in escrow and released when the task's tests pass.
        {props.viewer ? "" : " Sign in to claim one."}
      </p>
      <form
        method="get"
        action="/explore"
        class="card filters"
        aria-label="Filter tasks"
        hx-get="/explore"
        hx-target="#explore-results"
        hx-select="#explore-results"
        hx-swap="outerHTML"
        hx-push-url="true"
        hx-trigger="change, submit"
      >
        <label>
          Language
          <select name="language" aria-invalid={bad("language")}>
            <option value="">Any</option>
            {LANGUAGES.map((l) => (
              <option value={l} selected={v.language === l}>
                {l}
              </option>
            ))}
          </select>
          <FieldError errors={props.errors} name="language" />
        </label>
        {num("minPoints", "Points from")}
        {num("maxPoints", "Points to")}
        {num("minUsd", "Payout from (USD)", "0.01")}
        {num("maxUsd", "Payout to (USD)", "0.01")}
        <label>
          Token
          <select name="token">
            <option value="">Any</option>
            {props.tokens.map((t) => (
              <option value={t} selected={v.token?.toLowerCase() === t.toLowerCase()} safe>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label>
          Repository
          <input name="repo" type="search" maxlength="200" value={v.repo ?? ""} placeholder="owner/name" />
        </label>
        <label>
          Sort by
          <select name="sort">
            <option value="payout" selected={!v.sort || v.sort === "payout"}>
              Payout
            </option>
            <option value="points" selected={v.sort === "points"}>
              Points
            </option>
            <option value="newest" selected={v.sort === "newest"}>
              Newest
            </option>
          </select>
        </label>
        <div class="filter-actions">
          <button type="submit">Apply</button> <a href="/explore">Clear</a>
        </div>
      </form>
      <Results board={props.board} values={v} />
    </Layout>
  );
}

function Results({ board, values }: { board: ExplorePage | null; values: Record<string, string> }) {
  if (!board)
    return (
      <div id="explore-results" class="card">
        <p>Fix the filters marked above to see tasks.</p>
      </div>
    );
  const params = filterParams(values);
  const pageHref = (n: number) => {
    const p = new URLSearchParams(params);
    if (n > 1) p.set("page", String(n));
    const s = p.toString();
    return s ? `/explore?${s}` : "/explore";
  };
  return (
    <div id="explore-results">
      <p class="muted" aria-live="polite" safe>
        {`${board.total} task${board.total === 1 ? "" : "s"}${board.pages > 1 ? ` · page ${board.page} of ${board.pages}` : ""}`}
      </p>
      {board.tasks.length ? (
        <div class="card">
          <table class="stack-cards">
            <caption class="sr-only">Funded open tasks</caption>
            <thead>
              <tr>
                <th scope="col">Task</th>
                <th scope="col">Language</th>
                <th scope="col" class="num">
                  Points
                </th>
                <th scope="col" class="num">
                  Payout
                </th>
              </tr>
            </thead>
            <tbody>
              {board.tasks.map((t) => (
                <TaskRow t={t} />
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <div class="card">
          <p>No funded open task matches these filters.</p>
        </div>
      )}
      {board.pages > 1 ? (
        <nav aria-label="Pages" class="pager">
          {board.page > 1 ? <a href={pageHref(board.page - 1)}>← Previous</a> : ""}
          {board.page < board.pages ? <a href={pageHref(board.page + 1)}>Next →</a> : ""}
        </nav>
      ) : (
        ""
      )}
    </div>
  );
}

const STATUS_TEXT: Record<string, string> = {
  OPEN: "Open: anyone signed in can claim it.",
  CLAIMED: "Claimed: someone is working on it.",
  VERIFYING: "Being verified: the submitted work is under test.",
  VERIFIED: "Verified: the work passed and waits for payment.",
  PAYING: "Being paid.",
  PAID: "Done and paid.",
};

/** A task of a public project as a signed-out visitor sees it, with the way to claim it (sign in first). */
export function PublicTaskPage({ t }: { t: PublicTask }) {
  const back = encodeURIComponent(`/tasks/${t.id}`);
  return (
    <Layout title={t.title} viewer={null}>
      <p class="muted crumb">
        <a href="/explore">Explore</a> /{" "}
        <a href={`/projects/${t.project.id}`} safe>
          {t.project.title}
        </a>{" "}
        / <span safe>{t.milestone}</span>
      </p>
      <h1 safe>{t.title}</h1>
      <div class="card stack">
        <p>
          <strong safe>{t.payout === null ? "Not funded yet" : `${t.payout} ${t.token}`}</strong>
          {t.usd === null ? "" : <span class="muted" safe>{` ≈ ${usd(t.usd)}`}</span>}
          <span class="muted" safe>{` · ${t.points} points${t.language ? ` · ${t.language}` : ""}`}</span>
        </p>
        <p safe>{STATUS_TEXT[t.status] ?? t.status}</p>
        {t.status === "OPEN" ? (
          <p>
            <a class="button" href={`/signin?next=${back}`}>
              Sign in to claim this task
            </a>
          </p>
        ) : (
          ""
        )}
      </div>
      <div class="card">
        <h2>What is asked</h2>
        <p class="pre-line" safe>
          {t.description || "No description."}
        </p>
        {t.acceptanceCriteria.length ? (
          <>
            <h3>Done when</h3>
            <ul>
              {t.acceptanceCriteria.map((c) => (
                <li safe>{c}</li>
              ))}
            </ul>
          </>
        ) : (
          ""
        )}
        {t.project.repository ? (
          <p class="muted" safe>
            {`Repository: ${t.project.repository}`}
          </p>
        ) : (
          ""
        )}
      </div>
    </Layout>
  );
}
