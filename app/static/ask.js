// Progressive enhancement of the search page: the answer streams in above the server-rendered
// results (POST /api/ask, server-sent events `sources`, `token`, `done`), follow-ups keep the
// conversation, and each answer can be rated.
(() => {
  const panel = document.getElementById("answer");
  const input = document.getElementById("q");
  if (!panel || !input || !window.fetch || !window.TextDecoder) return;
  const conversation = document.getElementById("conversation");
  // Signed in on the login page: POSTs carry the session's CSRF token (none with an API key).
  const csrf = { "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]')?.content || "" };
  const followForm = document.getElementById("followup-form");
  const followInput = document.getElementById("followup");
  const closest = document.getElementById("closest");
  // Only send the fields this server's AskRequest knows (it rejects unknown ones).
  const fields = new Set((panel.dataset.askFields || "").split(",").filter(Boolean));
  const filters = JSON.parse(panel.dataset.filters || "{}");
  const history = [];  // [{role, content}] of finished turns, oldest first
  let turns = 0;
  let busy = false;

  const el = (tag, props = {}, ...children) => {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children);
    return node;
  };

  function fileUrl(s) {
    const url = `/api/documents/${encodeURIComponent(s.document_id)}/file`;
    return s.page && /\.pdf$/i.test(s.source) ? `${url}#page=${s.page}` : url;
  }

  function renderSources(turn, list, sources) {
    list.replaceChildren();
    for (const s of sources) {
      const link = el("a", { href: fileUrl(s), target: "_blank", rel: "noopener", textContent: s.title || s.source });
      const item = el("li", { id: `source-${turn}-${s.n}`, value: s.n, tabIndex: -1 }, link);
      if (s.page) item.append(`, page ${s.page}`);
      item.append(" ", el("span", { className: "path", textContent: s.source }));
      list.append(item);
    }
  }

  // The answer as text, with [n] markers of listed sources turned into links.
  function renderAnswer(turn, node, text, known) {
    node.replaceChildren();
    let last = 0;
    for (const match of text.matchAll(/\[(\d{1,3})\]/g)) {
      const n = Number(match[1]);
      if (!known.has(n)) continue;
      node.append(text.slice(last, match.index));
      node.append(el("a", { className: "cite", href: `#source-${turn}-${n}`, textContent: `[${n}]` }));
      last = match.index + match[0].length;
    }
    node.append(text.slice(last));
  }

  // Clicking a marker scrolls to its source and highlights it.
  conversation.addEventListener("click", (event) => {
    const link = event.target.closest("a.cite");
    if (!link) return;
    const target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) return;
    event.preventDefault();
    document.querySelectorAll(".sources li.highlight").forEach((li) => li.classList.remove("highlight"));
    target.classList.add("highlight");
    target.scrollIntoView({ behavior: "smooth", block: "center" });
    target.focus({ preventScroll: true });
  });

  function feedbackControls(question, answer, citations) {
    const box = el("div", { className: "feedback-controls" });
    const status = el("span", { className: "hint", role: "status" });
    const comment = el("input", { type: "text", placeholder: "Comment (optional)", className: "comment" });
    comment.setAttribute("aria-label", "Comment on this answer (optional)");
    const send = async (rating) => {
      const body = { question, answer, rating, citations: citations.map(({ n, document_id, title, source, page }) => ({ n, document_id, title, source, page })) };
      if (comment.value.trim()) body.comment = comment.value.trim();
      const response = await fetch("/api/feedback", { method: "POST", headers: { "Content-Type": "application/json", ...csrf }, body: JSON.stringify(body) });
      status.textContent = response.ok ? "Thanks for the feedback." : "Feedback could not be saved.";
      if (response.ok) box.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    };
    // Text, not emoji: a machine without an emoji font would show empty boxes.
    const up = el("button", { type: "button", className: "secondary thumb", textContent: "▲ Helpful" });
    const down = el("button", { type: "button", className: "secondary thumb", textContent: "▼ Not helpful" });
    up.addEventListener("click", () => send(1));
    down.addEventListener("click", () => send(-1));
    box.append(up, down, comment, status);
    return box;
  }

  function* events(buffer) {
    let end;
    while ((end = buffer.text.search(/\r\n\r\n|\n\n|\r\r/)) >= 0) {
      const block = buffer.text.slice(0, end);
      buffer.text = buffer.text.slice(end).replace(/^(\r\n|\n|\r){2}/, "");
      let kind = "message"; const data = [];
      for (const line of block.split(/\r\n|\n|\r/)) {
        const [name, ...rest] = line.split(":");
        const value = rest.join(":").replace(/^ /, "");
        if (name === "event") kind = value;
        else if (name === "data") data.push(value);
      }
      if (data.length) yield [kind, JSON.parse(data.join("\n"))];
    }
  }

  async function ask(question) {
    if (busy) return;
    busy = true;
    const turn = turns++;
    panel.hidden = false;
    followForm.hidden = true;
    const heading = turn > 0 ? el("p", { className: "question", textContent: question }) : "";
    const notice = el("p", { className: "abstained", hidden: true, role: "status" });
    const text = el("p", { className: "answer-text streaming", textContent: "…" });
    if (turn === 0) text.id = "answer-text";
    const list = el("ol", { className: "sources" });
    const node = el("div", { className: "turn", }, heading, notice, text, list);
    node.dataset.turn = turn;
    conversation.append(node);
    const body = { question, stream: true };
    if (fields.has("filters") && Object.keys(filters).length) body.filters = filters;
    if (fields.has("history") && history.length) body.history = history.slice();
    let answer = "", known = new Set();
    try {
      const response = await fetch("/api/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream", ...csrf },
        body: JSON.stringify(body),
      });
      if (!response.ok) {
        const detail = await response.json().catch(() => ({}));
        text.textContent = detail.detail || `Error ${response.status}`;
        text.classList.add("error");
        return;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const buffer = { text: "" };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer.text += decoder.decode(value, { stream: true });
        for (const [kind, data] of events(buffer)) {
          if (kind === "sources") {
            known = new Set(data.map((s) => s.n));
            renderSources(turn, list, data);
          } else if (kind === "token") {
            answer += data.text;
            renderAnswer(turn, text, answer, known);
          } else if (kind === "done") {
            text.classList.remove("streaming");
            renderAnswer(turn, text, data.answer, known);
            const cited = new Set(data.citations.map((c) => c.n));
            list.querySelectorAll("li").forEach((li) => li.classList.toggle("cited", cited.has(Number(li.value))));
            if (data.abstained) {
              notice.hidden = false;
              notice.replaceChildren(el("strong", { textContent: "Not in the knowledge base." }), " The closest sources:");
              text.hidden = true;
              if (!list.children.length && closest && closest.querySelector("li")) {
                list.replaceWith(closest);
                closest.hidden = false;
              }
            }
            history.push({ role: "user", content: question }, { role: "assistant", content: data.answer });
            node.append(feedbackControls(question, data.answer, data.citations));
          } else if (kind === "error") {
            text.textContent = data.detail;
            text.classList.add("error");
          }
        }
      }
    } catch (error) {
      text.textContent = "The answer could not be loaded.";
      text.classList.add("error");
    } finally {
      text.classList.remove("streaming");
      busy = false;
      followForm.hidden = !fields.has("history");
      panel.dataset.state = "done";
    }
  }

  followForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = followInput.value.trim();
    if (!question) return;
    followInput.value = "";
    ask(question);
  });

  document.getElementById("new-search").addEventListener("click", (event) => {
    event.preventDefault();
    history.length = 0;
    conversation.replaceChildren();
    panel.hidden = true;
    input.value = "";
    window.location.assign("/");
  });

  // The search box has been submitted: results are on the page, now stream the answer.
  if (panel.dataset.stream === "true" && input.value.trim()) ask(input.value.trim());
})();
