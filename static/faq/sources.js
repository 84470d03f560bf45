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

  // "This answers it" under a "not sure" answer: each listed source can be confirmed.
  function renderClosest(box, payload) {
    const closest = (payload.sources || []).filter((item) => item && item.use === "closest");
    if (!closest.length || !payload.id) return;
    const label = document.createElement("p");
    label.className = "sources-label";
    label.textContent = "Did one of these answer your question?";
    const list = document.createElement("ul");
    list.className = "sources-confirm";
    for (const item of closest) {
      const li = document.createElement("li");
      const text = document.createElement("span");
      text.textContent = `[${item.number}] ${item.question}`;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link confirm-source";
      button.dataset.message = String(payload.id);
      button.dataset.number = String(item.number);
      button.textContent = "This answers it";
      li.append(text, " ", button);
      list.appendChild(li);
    }
    box.append(label, list);
  }

  function csrfToken() {
    const found = document.cookie.split("; ").find((part) => part.startsWith("csrftoken="));
    return found ? decodeURIComponent(found.slice("csrftoken=".length)) : "";
  }

  async function confirm(button) {
    button.disabled = true;
    const body = new URLSearchParams({ message: button.dataset.message, number: button.dataset.number });
    let note = "Sorry, that could not be recorded. Try again later.";
    try {
      const response = await fetch("/faq/confirm/", {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken() },
        body,
      });
      const data = await response.json();
      note = data.message || data.error || note;
    } catch (error) {
      button.disabled = false;
    }
    const thanks = document.createElement("span");
    thanks.className = "confirm-thanks";
    thanks.setAttribute("role", "status");
    thanks.textContent = note;
    button.replaceWith(thanks);
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button.confirm-source");
    if (button) confirm(button);
  });

  if (window.chatPage) {
    window.chatPage.hooks.renderMessage.push((el, payload) => {
      render(el, payload);
      const box = el.querySelector(".message-sources");
      if (box) renderClosest(box, payload);
    });
  }
})();
