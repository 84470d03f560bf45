// "Cut at the length limit" under an answer that reached its token limit, and
// Continue, which asks the model to write on from where it stopped; the text
// is appended to the same answer. The server renders the same for saved
// messages (chat/length_cut.html).
(function () {
  "use strict";

  function render(el, payload) {
    const note = el.querySelector(".length-cut");
    if (!note) return;
    note.hidden = !(payload.status === "done" && payload.finish_reason === "length");
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest(".continue-answer");
    if (!button || !window.chatPage) return;
    const article = button.closest(".message");
    if (!article || !article.dataset.id) return;
    window.chatPage.request({ type: "continue", message_id: Number(article.dataset.id) });
  });

  if (window.chatPage) window.chatPage.hooks.renderMessage.push(render);
})();
