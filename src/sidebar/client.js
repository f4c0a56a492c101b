// The AI sidebar: sends the question as JSON and shows the answer as it streams (Server-Sent Events over POST).
// Without this script the form posts to /sidebar/ask and the page reloads with the answer.
(() => {
  const div = (cls, text) => {
    const d = document.createElement("div");
    if (cls) d.className = cls;
    if (text !== undefined) d.textContent = text;
    return d;
  };
  const turn = (role) => div(`turn ${role}`);
  /** Shows `text` in `el` with Markdown code as code (as the server renders stored answers), never as HTML. */
  const rich = (el, text) => {
    el.textContent = "";
    text.split(/```[^\n`]*\n?([\s\S]*?)```/).forEach((part, i) => {
      if (i % 2 === 1) {
        const pre = document.createElement("pre");
        const code = document.createElement("code");
        code.textContent = part.replace(/\n$/, "");
        pre.appendChild(code);
        el.appendChild(pre);
        return;
      }
      part.split(/`([^`\n]+)`/).forEach((bit, j) => {
        if (j % 2 === 1) {
          const code = document.createElement("code");
          code.textContent = bit;
          el.appendChild(code);
        } else if (bit) el.appendChild(document.createTextNode(bit));
      });
    });
  };
  // A retrieval answer quotes its passages: its citations name the sources only (no second copy of each passage).
  const citations = (list, quoted) => {
    const ol = document.createElement("ol");
    ol.className = "citations";
    for (const c of list) {
      const li = document.createElement("li");
      li.value = c.n;
      const name = document.createElement("strong");
      name.textContent = c.filename;
      li.appendChild(name);
      const where = document.createElement("span");
      where.className = "muted";
      where.textContent = `${c.page ? ` · page ${c.page}` : ""} · passage ${c.chunkIndex + 1}`;
      li.appendChild(where);
      if (!quoted) {
        li.appendChild(document.createElement("br"));
        const excerpt = document.createElement("span");
        excerpt.className = "muted";
        rich(excerpt, c.excerpt.length > 160 ? `${c.excerpt.slice(0, 159)}…` : c.excerpt);
        li.appendChild(excerpt);
      }
      ol.appendChild(li);
    }
    return ol;
  };

  /** Parses an SSE byte stream and calls `on(event, data)` for each frame. */
  const readEvents = async (body, on) => {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let i = buf.indexOf("\n\n");
      while (i >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let event = "message";
        let data = "";
        for (const line of frame.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (data) on(event, JSON.parse(data));
        i = buf.indexOf("\n\n");
      }
    }
  };

  const ask = async (form, turns) => {
    const fd = new FormData(form);
    const message = String(fd.get("message") || "").trim();
    if (!message) return;
    const body = { message };
    for (const k of ["projectId", "milestoneId", "taskId"]) if (fd.get(k)) body[k] = String(fd.get(k));
    const q = turn("user");
    q.appendChild(div("body", message));
    turns.appendChild(q);
    const a = turn("assistant");
    a.setAttribute("data-answer", "streaming");
    const text = div("body");
    a.appendChild(text);
    turns.appendChild(a);
    const button = form.querySelector("button");
    button.disabled = true;
    form.querySelector("textarea").value = "";
    const finish = (state) => {
      a.setAttribute("data-answer", state);
      button.disabled = false;
    };
    try {
      const res = await fetch("/api/ai/sidebar", {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "content-type": "application/json",
          accept: "text/event-stream",
          "x-csrf-token": String(fd.get("_csrf") || ""),
        },
        body: JSON.stringify(body),
      });
      if (!res.ok || !res.body) {
        const e = await res.json().catch(() => null);
        text.textContent = e?.error?.message ?? `The assistant could not answer (${res.status}).`;
        finish("error");
        return;
      }
      await readEvents(res.body, (event, data) => {
        if (event === "meta" && data.mode === "retrieval") {
          a.insertBefore(div("badge warn", "from documents, no model"), text);
        } else if (event === "token") {
          text.textContent += data.text;
        } else if (event === "done") {
          rich(text, text.textContent);
          if (data.citations?.length) a.appendChild(citations(data.citations, data.mode === "retrieval"));
          finish("done");
        } else if (event === "error") {
          text.textContent += `${text.textContent ? "\n\n" : ""}${data.message}`;
          finish("error");
        }
      });
      if (a.getAttribute("data-answer") === "streaming") finish("done");
    } catch (err) {
      text.textContent += `\n\n${err.message}`;
      finish("error");
    }
  };

  const attach = (form) => {
    if (form.dataset.sidebarReady) return;
    form.dataset.sidebarReady = "1";
    const turns = form.parentNode.querySelector("[data-sidebar-turns]");
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      ask(form, turns);
    });
  };
  const scan = () => {
    for (const form of document.querySelectorAll("form[data-sidebar-form]")) attach(form);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan);
  else scan();
})();
