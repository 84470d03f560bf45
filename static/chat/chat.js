// The chat page: one websocket, a transcript kept in step with the server.
//
// Every answer chunk carries a number. A chunk is applied only if it follows
// the last one applied; otherwise (a reload, a dropped socket, a chunk the
// channel layer dropped) the page asks the server for everything after the
// last number it has, so text is never lost or doubled.
(function () {
  "use strict";

  const chat = document.getElementById("chat");
  const transcript = document.getElementById("transcript");
  const composer = document.getElementById("composer");
  const input = document.getElementById("message-input");
  const sendButton = document.getElementById("send-button");
  const stopButton = document.getElementById("stop-button");
  const composerError = document.getElementById("composer-error");
  const connectionState = document.getElementById("connection-state");
  const botPicker = document.getElementById("bot-picker");
  const template = document.getElementById("message-template");
  const conversationList = document.getElementById("conversation-list");

  const ACTIVE = new Set(["queued", "streaming"]);
  const STATE_LABELS = {
    queued: "Waiting for the model…",
    streaming: "Writing…",
    done: "",
    stopped: "Stopped",
    error: "Failed",
  };
  const STALL_SECONDS = 5;
  // Said when an answer has been waiting a while, before any timeout ends it.
  const WAITING_SECONDS = 4;
  const WAITING_LABELS = {
    queued: "Waiting for a free worker: other answers are being written…",
    engine_silent: "The model is busy or slow to respond; still waiting…",
    engine_silent_mid: "The model has paused; still waiting for the rest…",
  };

  let conversationId = chat.dataset.conversationId ? Number(chat.dataset.conversationId) : null;
  let socket = null;
  let reconnectDelay = 500;
  let sessionEnded = false; // the last socket was closed for a session that ended
  let pendingSend = null; // the request whose echo we wait for before clearing the composer
  let outbox = null; // a send typed before the socket was open
  let refCounter = 0;
  const messages = new Map(); // id -> {el, seq, attempt, status, lastChunkAt}

  // Other parts of the page (image attachments, feedback) plug in here.
  const hooks = { beforeSend: [], renderMessage: [], resetComposer: [] };
  window.chatPage = {
    hooks,
    request: (payload) => sendRequest(payload),
    showError: (text) => showError(text),
    get conversationId() { return conversationId; },
  };

  // --- transcript -----------------------------------------------------------

  function adopt(el) {
    const id = Number(el.dataset.id);
    const entry = {
      el,
      seq: Number(el.dataset.seq || 0),
      attempt: Number(el.dataset.attempt || 1),
      status: el.dataset.status,
      lastChunkAt: Date.now(),
    };
    messages.set(id, entry);
    return entry;
  }

  function nearBottom() {
    return transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 80;
  }

  function scrollIfFollowing(following) {
    if (following) transcript.scrollTop = transcript.scrollHeight;
  }

  function setStatus(entry, status, error) {
    entry.status = status;
    const el = entry.el;
    el.dataset.status = status;
    el.className = `message ${el.dataset.role} status-${status}`;
    el.querySelector(".message-state").textContent = el.dataset.role === "user" ? "" : STATE_LABELS[status] || "";
    el.querySelector(".message-error").textContent = error || "";
    const retry = el.querySelector(".retry");
    if (retry) retry.hidden = !(status === "error" || status === "stopped");
    updateComposer();
  }

  function upsertMessage(payload) {
    let entry = messages.get(payload.id);
    if (entry) {
      const older = payload.attempt < entry.attempt ||
        (payload.attempt === entry.attempt && ACTIVE.has(payload.status) && payload.seq < entry.seq);
      if (older) return entry;
    } else {
      if (payload.conversation_id !== conversationId) return null;
      const el = template.content.firstElementChild.cloneNode(true);
      el.dataset.id = payload.id;
      el.dataset.role = payload.role;
      el.querySelector(".message-role").textContent = payload.role === "user" ? "You" : "Assistant";
      if (payload.role === "user") el.querySelector(".retry").remove();
      const empty = transcript.querySelector(".empty");
      if (empty) empty.remove();
      transcript.appendChild(el);
      entry = adopt(el);
    }
    const following = nearBottom();
    entry.seq = payload.seq;
    entry.attempt = payload.attempt;
    entry.lastChunkAt = Date.now();
    entry.el.dataset.seq = payload.seq;
    entry.el.dataset.attempt = payload.attempt;
    entry.el.querySelector(".message-body").innerHTML = payload.html; // sanitized on the server
    entry.el.querySelector(".message-tail").textContent = "";
    setStatus(entry, payload.status, payload.error);
    hooks.renderMessage.forEach((hook) => hook(entry.el, payload));
    scrollIfFollowing(following);
    return entry;
  }

  function applyChunk(chunk) {
    const entry = messages.get(chunk.message_id);
    if (!entry) return;
    if (chunk.attempt !== entry.attempt) {
      if (chunk.attempt > entry.attempt) resume(entry, chunk.message_id);
      return;
    }
    if (chunk.seq <= entry.seq) return; // already have it
    if (chunk.from !== entry.seq) { // a gap: fetch what is missing
      resume(entry, chunk.message_id);
      return;
    }
    const following = nearBottom();
    entry.seq = chunk.seq;
    entry.el.dataset.seq = chunk.seq;
    entry.lastChunkAt = Date.now();
    const tail = entry.el.querySelector(".message-tail");
    if (chunk.html !== undefined) {
      entry.el.querySelector(".message-body").innerHTML = chunk.html; // sanitized on the server
      tail.textContent = "";
    } else {
      tail.textContent += chunk.delta; // plain text until the next rendered snapshot
    }
    if (entry.status !== "streaming") setStatus(entry, "streaming");
    scrollIfFollowing(following);
  }

  function resume(entry, id) {
    entry.lastChunkAt = Date.now();
    sendRequest({ type: "resume", message_id: id, after: entry.seq, attempt: entry.attempt });
  }

  function activeReply() {
    for (const [id, entry] of messages) {
      if (entry.el.dataset.role === "assistant" && ACTIVE.has(entry.status)) return id;
    }
    return null;
  }

  function updateComposer() {
    const busy = activeReply() !== null;
    stopButton.hidden = !busy;
    sendButton.hidden = busy;
  }

  // --- sidebar --------------------------------------------------------------

  function upsertConversation(item) {
    let li = conversationList.querySelector(`li[data-id="${item.id}"]`);
    if (item.deleted) {
      if (li) li.remove();
      if (item.id === conversationId) window.location.assign("/");
      return;
    }
    if (!li) {
      li = document.createElement("li");
      li.dataset.id = item.id;
      const a = document.createElement("a");
      a.href = chat.dataset.conversationUrl.replace("/0/", `/${item.id}/`);
      li.appendChild(a);
    }
    li.querySelector("a").textContent = item.title || "New conversation";
    if (item.id === conversationId) {
      li.classList.add("current");
      li.setAttribute("aria-current", "page");
      document.getElementById("conversation-title").textContent = item.title;
    }
    conversationList.prepend(li); // newest activity first
  }

  // --- socket ---------------------------------------------------------------

  function sendRequest(payload) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(payload));
    return true;
  }

  function showError(text) {
    composerError.textContent = text || "";
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}${chat.dataset.wsPath}`);
    let opened = false;
    socket.addEventListener("open", () => {
      opened = true;
      sessionEnded = false;
      reconnectDelay = 500;
      connectionState.textContent = "";
      if (conversationId) sendRequest({ type: "open", conversation_id: conversationId });
      if (outbox) {
        sendRequest(outbox);
        outbox = null;
      }
      for (const [id, entry] of messages) {
        if (ACTIVE.has(entry.status) && entry.el.dataset.role === "assistant") resume(entry, id);
      }
    });
    socket.addEventListener("message", (event) => {
      const data = JSON.parse(event.data);
      switch (data.type) {
        case "chunk": applyChunk(data); break;
        case "message": onMessage(data); break;
        case "created": onCreated(data); break;
        case "conversation": upsertConversation(data.conversation); break;
        case "error": onError(data); break;
        case "waiting": onWaiting(data); break;
        default: break;
      }
    });
    socket.addEventListener("close", (event) => {
      // 4401: the session ended (signed out, account disabled, password changed).
      // It may be this tab's own password change, whose new cookie opens the
      // next socket; when the next one is refused too, the person is signed out.
      const signedOut = sessionEnded && !opened;
      if (event.code === 4401) sessionEnded = true;
      connectionState.textContent = signedOut
        ? "You are signed out. Sign in again (in another tab, to keep what you typed here)."
        : "Connection lost, reconnecting…";
      if (pendingSend && !outbox) { // sent but never confirmed: it stays in the composer
        pendingSend = null;
        sendButton.disabled = false;
      }
      setTimeout(connect, signedOut ? 5000 : reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, 5000);
    });
  }

  function onCreated(data) {
    conversationId = data.conversation.id;
    chat.dataset.conversationId = conversationId;
    const url = chat.dataset.conversationUrl.replace("/0/", `/${conversationId}/`);
    window.history.replaceState(null, "", url);
    upsertConversation({ id: conversationId, title: data.conversation.title });
    if (botPicker) botPicker.disabled = true;
    document.querySelectorAll("form.conversation-action").forEach((form) => {
      form.action = form.dataset.action.replace("/0/", `/${conversationId}/`);
      form.hidden = false;
    });
    const titleInput = document.getElementById("rename-title");
    if (titleInput) titleInput.value = data.conversation.title;
  }

  function onMessage(data) {
    upsertMessage(data.message);
    if (pendingSend && data.ref === pendingSend.ref) {
      pendingSend = null;
      input.value = "";
      sendButton.disabled = false;
      hooks.resetComposer.forEach((hook) => hook());
    }
  }

  function onWaiting(data) {
    const entry = messages.get(data.message_id);
    if (!entry || !ACTIVE.has(entry.status)) return;
    const midAnswer = entry.seq > 0 && data.reason === "engine_silent";
    entry.el.querySelector(".message-state").textContent = WAITING_LABELS[midAnswer ? "engine_silent_mid" : data.reason] || "";
  }

  function onError(data) {
    showError(data.error);
    if (pendingSend && (data.ref === pendingSend.ref || data.request === "send")) {
      pendingSend = null; // the text stays in the composer
      sendButton.disabled = false;
    }
  }

  // --- composer -------------------------------------------------------------

  function submit() {
    const text = input.value.trim();
    showError("");
    if (pendingSend) return;
    const extra = {};
    for (const hook of hooks.beforeSend) {
      const problem = hook(extra);
      if (problem) { showError(problem); return; }
    }
    if (!text && !(extra.images && extra.images.length)) { showError("Type a message first."); return; }
    const ref = `r${Date.now()}-${++refCounter}`;
    const payload = { type: "send", ref, conversation_id: conversationId, text, ...extra };
    if (!conversationId && botPicker) payload.bot = botPicker.value;
    if (!sendRequest(payload)) {
      outbox = payload; // goes out as soon as the socket opens; the text stays meanwhile
      connectionState.textContent = "Connecting… your message will be sent as soon as the connection is up.";
    }
    pendingSend = { ref };
    sendButton.disabled = true;
  }

  composer.addEventListener("submit", (event) => { event.preventDefault(); submit(); });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  stopButton.addEventListener("click", () => {
    const id = activeReply();
    if (id !== null) sendRequest({ type: "stop", message_id: id });
  });
  transcript.addEventListener("click", (event) => {
    const button = event.target.closest("button.retry");
    if (!button) return;
    const id = Number(button.closest(".message").dataset.id);
    sendRequest({ type: "retry", message_id: id });
  });
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  // An answer that goes quiet is checked: the server resends what is missing,
  // or reports that its worker died.
  setInterval(() => {
    for (const [id, entry] of messages) {
      if (!ACTIVE.has(entry.status)) continue;
      const quiet = Date.now() - entry.lastChunkAt;
      if (entry.status === "queued" && quiet > WAITING_SECONDS * 1000) onWaiting({ message_id: id, reason: "queued" });
      if (quiet > STALL_SECONDS * 1000) resume(entry, id);
    }
  }, 1000);

  transcript.querySelectorAll(".message").forEach(adopt);
  updateComposer();
  transcript.scrollTop = transcript.scrollHeight;
  connect();
})();
