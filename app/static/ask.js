// Progressive enhancement: "Ask" streams the answer from /api/ask instead of reloading.
(() => {
  const button = document.getElementById("ask-button");
  const input = document.getElementById("q");
  const panel = document.getElementById("answer");
  if (!button || !input || !panel || !window.fetch || !window.TextDecoder) return;

  const show = (text) => { document.getElementById("answer-text").textContent = text; };

  function renderCitations(citations) {
    const list = document.getElementById("citations");
    list.replaceChildren();
    for (const c of citations) {
      const item = document.createElement("li");
      item.value = c.n;
      const title = document.createElement("strong");
      title.textContent = c.title + (c.page ? `, page ${c.page}` : "");
      const source = document.createElement("span");
      source.className = "source";
      source.textContent = " " + c.source;
      item.append(title, source);
      list.append(item);
    }
  }

  async function ask(event) {
    const question = input.value.trim();
    if (!question) return;
    event.preventDefault();
    history.replaceState(null, "", "/?q=" + encodeURIComponent(question));
    panel.hidden = false;
    show("…");
    renderCitations([]);
    const response = await fetch("/api/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
      body: JSON.stringify({ question, stream: true }),
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      show(body.detail || `Error ${response.status}`);
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "", answer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\r\n\r\n")) >= 0 || (end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^(\r?\n){2}/, "");
        const kind = (block.match(/^event: ?(.*)$/m) || [])[1];
        const data = block.split(/\r?\n/).filter((l) => l.startsWith("data:"))
          .map((l) => l.replace(/^data: ?/, "")).join("\n");
        if (!data) continue;
        const payload = JSON.parse(data);
        if (kind === "token") { answer += payload.text; show(answer); }
        if (kind === "done") { show(payload.answer); renderCitations(payload.citations); }
        if (kind === "error") show(payload.detail);
      }
    }
  }
  button.addEventListener("click", ask);
})();
