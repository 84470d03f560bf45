// Thumbs up/down and an optional comment on each finished answer.
//
// The server renders the widget into the transcript; answers that arrive live
// get a copy of #feedback-template through the chat page's renderMessage hook.
// Clicking the pressed thumb again withdraws the vote.
(function () {
  "use strict";

  const template = document.getElementById("feedback-template");
  const transcript = document.getElementById("transcript");
  if (!template || !transcript) return;
  const FINISHED = new Set(["done", "stopped"]);

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function feedbackUrl(messageId) {
    return template.dataset.url.replace("/0/", `/${messageId}/`);
  }

  function show(widget, vote, comment) {
    widget.dataset.vote = vote;
    widget.querySelectorAll(".feedback-vote").forEach((button) => {
      button.setAttribute("aria-pressed", String(button.dataset.vote === vote));
    });
    const form = widget.querySelector(".feedback-comment");
    form.hidden = !vote;
    if (comment !== undefined) form.elements.comment.value = comment;
  }

  async function send(widget, vote, comment) {
    const messageId = widget.closest(".message").dataset.id;
    const state = widget.querySelector(".feedback-state");
    state.textContent = "";
    let response;
    try {
      response = await fetch(feedbackUrl(messageId), {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken() },
        body: new URLSearchParams({ vote, comment }),
      });
    } catch (error) {
      state.textContent = "Not saved: no connection.";
      return;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      state.textContent = data.error || "Not saved.";
      return;
    }
    show(widget, data.vote, data.comment);
    state.textContent = data.vote ? "Thanks!" : "";
  }

  function attach(el, payload) {
    if (payload.role !== "assistant") return;
    let widget = el.querySelector(".feedback");
    if (!widget) {
      widget = template.content.firstElementChild.cloneNode(true);
      el.querySelector(".message-footer").appendChild(widget);
    }
    widget.hidden = !FINISHED.has(payload.status);
  }

  window.chatPage.hooks.renderMessage.push(attach);

  transcript.addEventListener("click", (event) => {
    const button = event.target.closest(".feedback-vote");
    if (!button) return;
    const widget = button.closest(".feedback");
    const vote = widget.dataset.vote === button.dataset.vote ? "" : button.dataset.vote;
    send(widget, vote, vote ? widget.querySelector(".feedback-comment").elements.comment.value : "");
  });
  transcript.addEventListener("submit", (event) => {
    const form = event.target.closest(".feedback-comment");
    if (!form) return;
    event.preventDefault();
    const widget = form.closest(".feedback");
    send(widget, widget.dataset.vote, form.elements.comment.value);
  });
})();
