// The AI sidebar: sends the question as JSON and shows the answer as it streams (Server-Sent Events over POST).
// Without this script the form posts to /sidebar/ask and the page reloads with the answer.
(function () {
  function div(cls, text) {
    var d = document.createElement("div");
    if (cls) d.className = cls;
    if (text !== undefined) d.textContent = text;
    return d;
  }
  function turn(role) {
    var t = div("turn " + role);
    t.style.cssText = "margin:.5rem 0;padding:.5rem .6rem;border-radius:6px;background:" + (role === "user" ? "#eef2fb" : "#f6f7f9");
    return t;
  }
  function citations(list) {
    var ol = document.createElement("ol");
    ol.className = "citations";
    ol.style.cssText = "font-size:.85rem;margin:.3rem 0 0;padding-left:1.2rem";
    list.forEach(function (c) {
      var li = document.createElement("li");
      li.value = c.n;
      var s = document.createElement("strong");
      s.textContent = c.filename;
      li.appendChild(s);
      var m = document.createElement("span");
      m.className = "muted";
      m.textContent = (c.page ? " · page " + c.page : "") + " · passage " + (c.chunkIndex + 1);
      li.appendChild(m);
      li.appendChild(document.createElement("br"));
      var e = document.createElement("span");
      e.className = "muted";
      e.textContent = c.excerpt.length > 160 ? c.excerpt.slice(0, 159) + "…" : c.excerpt;
      li.appendChild(e);
      ol.appendChild(li);
    });
    return ol;
  }
  function attach(form) {
    if (form.__sidebar) return;
    form.__sidebar = true;
    var turns = form.parentNode.querySelector("[data-sidebar-turns]");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var fd = new FormData(form);
      var message = String(fd.get("message") || "").trim();
      if (!message) return;
      var body = { message: message };
      ["projectId", "milestoneId", "subMilestoneId"].forEach(function (k) {
        if (fd.get(k)) body[k] = String(fd.get(k));
      });
      var q = turn("user");
      q.appendChild(div("", message)).style.whiteSpace = "pre-wrap";
      turns.appendChild(q);
      var a = turn("assistant");
      a.setAttribute("data-answer", "streaming");
      var text = div("");
      text.style.whiteSpace = "pre-wrap";
      a.appendChild(text);
      turns.appendChild(a);
      var button = form.querySelector("button");
      button.disabled = true;
      form.querySelector("textarea").value = "";
      var finish = function (state) {
        a.setAttribute("data-answer", state);
        button.disabled = false;
      };
      fetch("/api/ai/sidebar", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", accept: "text/event-stream", "x-csrf-token": String(fd.get("_csrf") || "") },
        body: JSON.stringify(body),
      })
        .then(function (res) {
          if (!res.ok || !res.body) {
            return res.json().then(
              function (e) {
                text.textContent = (e && e.error && e.error.message) || "The assistant could not answer (" + res.status + ").";
                finish("error");
              },
              function () {
                text.textContent = "The assistant could not answer (" + res.status + ").";
                finish("error");
              },
            );
          }
          var reader = res.body.getReader();
          var decoder = new TextDecoder();
          var buf = "";
          var handle = function (event, data) {
            if (event === "meta" && data.mode === "retrieval") {
              var b = div("badge warn", "from documents, no model");
              b.style.marginBottom = ".3rem";
              a.insertBefore(b, text);
            } else if (event === "token") {
              text.textContent += data.text;
            } else if (event === "done") {
              if (data.citations && data.citations.length) a.appendChild(citations(data.citations));
              finish("done");
            } else if (event === "error") {
              text.textContent += (text.textContent ? "\n\n" : "") + data.message;
              finish("error");
            }
          };
          var pump = function () {
            return reader.read().then(function (r) {
              if (r.done) {
                if (a.getAttribute("data-answer") === "streaming") finish("done");
                return;
              }
              buf += decoder.decode(r.value, { stream: true });
              var i;
              while ((i = buf.indexOf("\n\n")) >= 0) {
                var frame = buf.slice(0, i);
                buf = buf.slice(i + 2);
                var event = "message";
                var data = "";
                frame.split("\n").forEach(function (line) {
                  if (line.indexOf("event: ") === 0) event = line.slice(7);
                  else if (line.indexOf("data: ") === 0) data += line.slice(6);
                });
                if (data) handle(event, JSON.parse(data));
              }
              return pump();
            });
          };
          return pump();
        })
        .catch(function (err) {
          text.textContent += "\n\n" + err.message;
          finish("error");
        });
    });
  }
  function scan() {
    document.querySelectorAll("form[data-sidebar-form]").forEach(attach);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan);
  else scan();
})();
