import { escapeHtml } from "@kitajs/html";
import { SIDEBAR_SCRIPT_PATH } from "./assets";
import type { Citation } from "./schema";
import type { SidebarPanelData } from "./service";

/** One turn as shown in the sidebar. */
export interface Turn {
  role: "user" | "assistant";
  content: string;
  citations: Citation[];
  mode: string | null;
}

/**
 * Text of an answer or passage as HTML: escaped, with Markdown code (`inline` and ``` fenced blocks) shown as code
 * instead of raw backticks. The sidebar script does the same in the browser once a streamed answer is complete.
 */
export function richText(text: string): string {
  return text
    .split(/```[^\n`]*\n?([\s\S]*?)```/)
    .map((part, i) => {
      if (i % 2 === 1) return `<pre><code>${escapeHtml(part.replace(/\n$/, ""))}</code></pre>`;
      return part
        .split(/`([^`\n]+)`/)
        .map((bit, j) => (j % 2 === 1 ? `<code>${escapeHtml(bit)}</code>` : escapeHtml(bit)))
        .join("");
    })
    .join("");
}

/**
 * The citations under an answer. A retrieval answer quotes its passages already, so its citations name the
 * sources only; a model's answer gets a short excerpt of each passage it cites.
 */
export function Citations({ citations, quoted = false }: { citations: Citation[]; quoted?: boolean }) {
  if (!citations.length) return "";
  return (
    <ol class="citations">
      {citations.map((c) => (
        <li value={String(c.n)}>
          <strong safe>{c.filename}</strong>
          <span class="muted" safe>
            {`${c.page ? ` · page ${c.page}` : ""} · passage ${c.chunkIndex + 1}`}
          </span>
          {quoted ? (
            ""
          ) : (
            <>
              <br />
              <span class="muted">
                {richText(c.excerpt.length > 160 ? `${c.excerpt.slice(0, 159)}…` : c.excerpt) as "safe"}
              </span>
            </>
          )}
        </li>
      ))}
    </ol>
  );
}

function TurnView({ turn }: { turn: Turn }) {
  return (
    <div class={`turn ${turn.role}`}>
      {turn.role === "assistant" && turn.mode === "retrieval" ? (
        <div class="badge warn">from documents, no model</div>
      ) : (
        ""
      )}
      <div class="body">
        {(turn.role === "assistant" ? richText(turn.content) : escapeHtml(turn.content)) as "safe"}
      </div>
      {turn.role === "assistant" ? <Citations citations={turn.citations} quoted={turn.mode === "retrieval"} /> : ""}
    </div>
  );
}

/**
 * The AI sidebar for a project, milestone or task page: this page's conversation so far, and a question form.
 * With JavaScript the answer streams in (sidebar script); without it the form posts and the page reloads.
 */
export function SidebarPanel(props: SidebarPanelData & { csrf?: string }) {
  const { turns, model } = props;
  const target =
    props.scope === "task"
      ? { name: "taskId", value: props.taskId! }
      : props.scope === "milestone"
        ? { name: "milestoneId", value: props.milestoneId! }
        : { name: "projectId", value: props.projectId };
  const back =
    props.scope === "task"
      ? `/tasks/${props.scopeId}`
      : props.scope === "milestone"
        ? `/milestones/${props.scopeId}`
        : `/projects/${props.scopeId}`;
  return (
    <section data-sidebar aria-labelledby="ai-sidebar-title">
      <h2 id="ai-sidebar-title">Assistant</h2>
      <p class="muted hint">
        {model
          ? `Answers use this ${props.scope}, its documents and your conversation here.`
          : "No language model is configured: answers quote the project's documents."}
      </p>
      <div class="turns" data-sidebar-turns aria-live="polite">
        {turns.map((t) => (
          <TurnView turn={t} />
        ))}
      </div>
      <form method="post" action="/sidebar/ask" data-sidebar-form class="stack ask">
        {props.csrf ? <input type="hidden" name="_csrf" value={props.csrf} /> : ""}
        <input type="hidden" name={target.name} value={target.value} />
        <input type="hidden" name="back" value={back} />
        <label for="sidebar-message" class="muted">
          Ask about this {props.scope}
        </label>
        <textarea id="sidebar-message" name="message" rows="3" maxlength="4000" required></textarea>
        <button type="submit">Ask</button>
      </form>
      <script src={SIDEBAR_SCRIPT_PATH} defer></script>
    </section>
  );
}
