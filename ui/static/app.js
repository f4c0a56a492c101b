// Small progressive enhancements; every page works without this file.
// Live run progress: <div data-run-stream="/api/runs/ID/stream"> is updated from Server-Sent Events.
(() => {
  function attach(el) {
    if (el.__stream) return;
    var src = el.getAttribute("data-run-stream");
    var es = new EventSource(src);
    el.__stream = es;
    var bar = el.querySelector(".progress > span");
    var msg = el.querySelector("[data-run-message]");
    var logEl = el.querySelector("[data-run-log]");
    es.addEventListener("progress", (e) => {
      var d = JSON.parse(e.data);
      if (bar && typeof d.pct === "number") bar.style.width = d.pct + "%";
      if (msg && d.message) msg.textContent = d.message;
    });
    es.addEventListener("log", (e) => {
      if (logEl) { logEl.textContent += JSON.parse(e.data).line + "\n"; logEl.scrollTop = logEl.scrollHeight; }
    });
    es.addEventListener("state", (e) => {
      var d = JSON.parse(e.data);
      if (msg) msg.textContent = d.state + (d.error ? ": " + d.error : "");
      if (d.state === "completed" || d.state === "dead" || d.state === "failed") {
        es.close();
        const done = el.getAttribute("data-run-done");
        if (done && d.state === "completed") window.location.assign(done);
      }
    });
  }
  function scan(root) { (root.querySelectorAll ? root : document).querySelectorAll("[data-run-stream]").forEach(attach); }
  document.addEventListener("DOMContentLoaded", () => { scan(document); });
  document.addEventListener("htmx:load", (e) => { scan(e.target); });
})();

// Confirmations: a form with <input type="hidden" name="_confirm" value="What will happen"> asks before it is sent
// (inline handlers are refused by the Content-Security-Policy, so one listener serves every form, htmx ones
// included). Yes leaves the field out of this one submission; without JavaScript the server asks on a page instead.
document.addEventListener("submit", (e) => {
  var q = e.target?.querySelector?.("input[name=_confirm]");
  if (!q || q.disabled) return;
  if (!window.confirm(q.value)) { e.preventDefault(); e.stopImmediatePropagation(); return; }
  q.disabled = true;
  setTimeout(() => { q.disabled = false; }, 0);
}, true);

// Copy buttons: <button data-copy="INPUT-ID" hidden> is shown here (nothing to press without JavaScript) and
// copies the input's value, falling back to selecting it where the clipboard is refused.
(() => {
  function show(root) { (root.querySelectorAll ? root : document).querySelectorAll("button[data-copy]").forEach((b) => { b.hidden = false; }); }
  document.addEventListener("DOMContentLoaded", () => { show(document); });
  document.addEventListener("htmx:load", (e) => { show(e.target); });
  document.addEventListener("click", (e) => {
    var b = e.target.closest?.("button[data-copy]");
    if (!b) return;
    var input = document.getElementById(b.getAttribute("data-copy"));
    if (!input) return;
    input.focus();
    input.select();
    var done = () => { b.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(input.value).then(done, () => { if (document.execCommand("copy")) done(); });
    else if (document.execCommand("copy")) done();
  });
})();

// Live bell: a signed-in page opens one event stream (GET /events/stream); each `bell` event replaces the bell's
// content at once. The bell's slow htmx poll stays as the fallback when the stream is down.
// Live pages: a task or project page (<main data-live-topics="task:ID">) follows its topic on the same stream; on a
// `changed` event it fetches itself again and swaps in the new content, unless the reader is typing in one of its
// forms: then a notice offers the reload instead, so nothing typed is lost.
(() => {
  var main = null;
  var typing = false;
  var pending = null;
  function notice() {
    if (document.getElementById("live-changed")) return;
    var p = document.createElement("p");
    p.id = "live-changed";
    p.className = "flash warning inline";
    p.setAttribute("role", "status");
    p.append("This page has changed since you opened it. ");
    var a = document.createElement("a");
    a.href = window.location.href;
    a.textContent = "Reload it";
    p.append(a);
    main.prepend(p);
  }
  function refresh() {
    pending = null;
    if (typing) return notice();
    fetch(window.location.href, { headers: { accept: "text/html" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => {
        var next = new DOMParser().parseFromString(html, "text/html").querySelector("main#main");
        if (!next || typing) return typing ? notice() : undefined;
        main.innerHTML = next.innerHTML;
        main.setAttribute("data-live-updated", String(Date.now()));
        if (window.htmx) window.htmx.process(main);
        main.dispatchEvent(new CustomEvent("htmx:load", { bubbles: true, detail: { elt: main } }));
      })
      .catch(() => notice());
  }
  function connect() {
    if (!document.querySelector("#bell > a") || !window.EventSource) return;
    main = document.querySelector("main[data-live-topics]");
    var topics = main ? main.getAttribute("data-live-topics") : "";
    if (main) main.addEventListener("input", () => { typing = true; });
    var es = new EventSource("/events/stream" + (topics ? "?topics=" + encodeURIComponent(topics) : ""));
    es.addEventListener("bell", (e) => {
      var bell = document.querySelector("#bell > a");
      if (!bell) return;
      var d = JSON.parse(e.data);
      bell.innerHTML = d.html;
      bell.setAttribute("data-unread", String(d.unread));
    });
    // A burst of changes (claim, then its notification) reloads the content once.
    es.addEventListener("changed", () => { if (main && !pending) pending = setTimeout(refresh, 250); });
  }
  document.addEventListener("DOMContentLoaded", connect);
})();
