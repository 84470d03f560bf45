// Links to the knowledge-base entries under a Team FAQ answer: the entries the
// answer cited, or while none is cited yet, all those it was given (entries the
// text links itself, "Related" and "closest", are not repeated). A generated
// answer that the check refused says it was replaced by the entry's own text.
// The server renders the same for saved messages (faq/sources.html).
(function () {
  "use strict";

  function render(el, payload) {
    const box = el.querySelector(".message-sources");
    if (!box) return;
    const sources = (payload.sources || []).filter(
      (item) => item && item.key && item.use !== "related" && item.use !== "closest");
    const cited = sources.filter((item) => item.cited);
    const items = cited.length ? cited : sources;
    box.replaceChildren();
    if (payload.replaced) {
      const note = document.createElement("p");
      note.className = "sources-replaced";
      note.textContent = "Replaced by the knowledge base's own answer: the generated one did not stick to the entries.";
      box.appendChild(note);
    }
    if (!items.length) return;
    const label = document.createElement("p");
    label.className = "sources-label";
    label.textContent = cited.length ? "Sources" : "Related FAQ entries";
    const list = document.createElement("ol");
    list.className = "sources-list";
    for (const item of items) {
      const link = document.createElement("a");
      link.href = item.url;
      link.textContent = `[${item.number}] ${item.question}`;
      const li = document.createElement("li");
      li.appendChild(link);
      list.appendChild(li);
    }
    box.append(label, list);
  }

  if (window.chatPage) window.chatPage.hooks.renderMessage.push(render);
})();
