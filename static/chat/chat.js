// The chat page: one websocket, a transcript kept in step with the server.
//
// Every answer chunk carries a number. A chunk is applied only if it follows
// the last one applied; otherwise (a reload, a dropped socket, a chunk the
// channel layer dropped) the page asks the server for everything after the
// last number it has, so text is never lost or doubled.
//
// A conversation is a tree (regenerated answers, edited questions): the page
// shows one branch. A new message that does not follow the last one shown
// starts another branch, and the page fetches the branch the server now shows.
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
  const editTemplate = document.getElementById("edit-template");
  const conversationList = document.getElementById("conversation-list");
  const jumpButton = document.getElementById("jump-latest");
  const announcer = document.getElementById("announcer");
  const charCount = document.getElementById("char-count");
  const nextSteps = JSON.parse(document.getElementById("error-next-steps").textContent);

  const ACTIVE = new Set(["queued", "streaming"]);
  const FINISHED = new Set(["done", "stopped", "error"]);
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
    model_starting: "The model is starting; your question will be answered as soon as it is ready…",
  };
  const maxChars = Number(chat.dataset.maxChars || 20000);
  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

  let conversationId = chat.dataset.conversationId ? Number(chat.dataset.conversationId) : null;
  let socket = null;
  let reconnectDelay = 500;
  let sessionEnded = false; // the last socket was closed for a session that ended
  let signedOut = false; // and the next one was refused too: the person is signed out
  let failedConnects = 0;
  let everConnected = false;
  let pendingSend = null; // the request whose echo we wait for before clearing the composer
  let outbox = null; // a send typed before the socket was open
  let refCounter = 0;
  let following = true; // the view sticks to the bottom while the user is there
  let stuckAt = 0; // scrollTop the page last set; less means the reader scrolled up
  let refreshing = null;
  let followNextRefresh = false;
  let sources = {}; // message id -> Markdown source, for Copy
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

  function readSources() {
    const data = document.getElementById("message-sources");
    sources = data ? JSON.parse(data.textContent) : {};
  }

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
    if (nearView) nearView.observe(el);
    else { describe(el); decorateCode(el); }
    return entry;
  }

  // Messages get local times and code copy buttons as they come near the
  // screen: a long conversation becomes usable without touching them all.
  const nearView = "IntersectionObserver" in window ? new IntersectionObserver((entries) => {
    for (const item of entries) {
      if (!item.isIntersecting) continue;
      nearView.unobserve(item.target);
      describe(item.target);
      decorateCode(item.target);
    }
  }, { root: transcript, rootMargin: "800px 0px" }) : null;

  function distanceFromBottom() {
    return transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight;
  }

  // Measured before a change: the view follows only if the reader is at the
  // bottom now (a scroll up whose event has not fired yet counts too).
  function atBottom() {
    if (following && transcript.scrollTop < stuckAt - 40) following = false;
    return following;
  }

  function stickToBottom(stick) {
    if (stick) {
      transcript.scrollTop = transcript.scrollHeight;
      stuckAt = transcript.scrollTop;
    }
    jumpButton.hidden = stick || distanceFromBottom() < 80;
  }

  function followNow() {
    following = true;
    stickToBottom(true);
  }

  // Local time and duration in the quiet line; the server writes UTC.
  function describe(el, payload) {
    const time = el.querySelector(".message-time");
    const iso = payload ? payload.created_at : time.getAttribute("datetime");
    if (iso) {
      const when = new Date(iso);
      time.setAttribute("datetime", iso);
      time.textContent = timeFormat.format(when);
      time.title = dateTimeFormat.format(when);
    }
    if (payload && payload.role === "assistant") {
      el.querySelector(".message-model").textContent = payload.model || "";
      el.querySelector(".message-duration").textContent = payload.duration ? `${payload.duration.toFixed(1)} s` : "";
    }
  }

  // Copy buttons on code blocks, added once the block is final.
  function decorateCode(el) {
    if (ACTIVE.has(el.dataset.status)) return;
    el.querySelectorAll(".message-body pre").forEach((pre) => {
      if (pre.parentElement.classList.contains("code-block")) return;
      // Outside the <pre>, which scrolls sideways, and out of the flow: no jump.
      const block = document.createElement("div");
      block.className = "code-block";
      pre.before(block);
      block.appendChild(pre);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "quiet copy-code";
      button.textContent = "Copy code";
      block.appendChild(button);
    });
  }

  function setStatus(entry, status, payload) {
    const previous = entry.status;
    entry.status = status;
    const el = entry.el;
    const role = el.dataset.role;
    el.dataset.status = status;
    el.classList.remove(...[...el.classList].filter((name) => name.startsWith("status-")));
    el.classList.add(`status-${status}`);
    el.querySelector(".message-state").textContent = role === "user" ? "" : STATE_LABELS[status] || "";
    const error = payload ? payload.error : null;
    if (payload) {
      el.querySelector(".message-error").textContent = error || "";
      el.querySelector(".message-next").textContent = status === "error" ? nextSteps[payload.error_code] || "" : "";
    }
    const finished = FINISHED.has(status);
    const retry = el.querySelector(".retry");
    if (retry) {
      retry.hidden = !finished;
      retry.classList.toggle("quiet", !(status === "error" || status === "stopped"));
    }
    if (role === "assistant" && finished && previous && ACTIVE.has(previous)) announce(el, status, error);
    updateComposer();
  }

  // Screen readers hear the answer once, when it is finished, not every token.
  function announce(el, status, error) {
    const text = el.querySelector(".message-body").innerText.trim();
    if (status === "done") announcer.textContent = `Answer finished: ${text}`;
    else if (status === "stopped") announcer.textContent = "Answer stopped.";
    else announcer.textContent = `The answer failed. ${error || ""}`;
  }

  function lastShownId() {
    const last = transcript.querySelector("article.message:last-of-type");
    return last ? Number(last.dataset.id) : null;
  }

  function upsertMessage(payload) {
    let entry = messages.get(payload.id);
    if (entry) {
      const older = payload.attempt < entry.attempt ||
        (payload.attempt === entry.attempt && ACTIVE.has(payload.status) && payload.seq < entry.seq);
      if (older) return entry;
    } else {
      if (payload.conversation_id !== conversationId) return null;
      if ((payload.parent_id || null) !== lastShownId()) {
        refreshTranscript(); // another branch: show what the server shows
        return null;
      }
      const el = template.content.firstElementChild.cloneNode(true);
      el.id = `message-${payload.id}`;
      el.dataset.id = payload.id;
      el.dataset.role = payload.role;
      el.dataset.parentId = payload.parent_id || "";
      el.classList.add(payload.role);
      el.querySelector(".message-role").textContent = payload.role === "user" ? "You" : "Assistant";
      if (payload.role === "user") {
        el.querySelector(".edit-message").hidden = false;
        el.querySelector(".retry").remove();
      } else {
        el.querySelector(".edit-message").remove();
      }
      const empty = transcript.querySelector(".empty");
      if (empty) empty.remove();
      releaseHeights();
      transcript.insertBefore(el, document.getElementById("message-sources"));
      entry = adopt(el);
    }
    sources[payload.id] = payload.content;
    const stick = atBottom();
    const wasActive = ACTIVE.has(entry.status);
    entry.seq = payload.seq;
    entry.attempt = payload.attempt;
    entry.lastChunkAt = Date.now();
    entry.el.dataset.seq = payload.seq;
    entry.el.dataset.attempt = payload.attempt;
    const body = entry.el.querySelector(".message-body");
    // The final HTML may be shorter than streamed text plus tail for a
    // moment: keep the height until the next turn so nothing below jumps.
    if (wasActive && FINISHED.has(payload.status)) entry.el.style.minHeight = `${entry.el.offsetHeight}px`;
    body.innerHTML = payload.html; // sanitized on the server
    entry.el.querySelector(".message-tail").textContent = "";
    setStatus(entry, payload.status, payload);
    describe(entry.el, payload);
    decorateCode(entry.el);
    hooks.renderMessage.forEach((hook) => hook(entry.el, payload));
    stickToBottom(stick);
    return entry;
  }

  function releaseHeights() {
    transcript.querySelectorAll(".message[style]").forEach((el) => { el.style.minHeight = ""; });
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
    const stick = atBottom();
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
    stickToBottom(stick);
  }

  function resume(entry, id) {
    entry.lastChunkAt = Date.now();
    sendRequest({ type: "resume", message_id: id, after: entry.seq, attempt: entry.attempt });
  }

  function resumeActive() {
    for (const [id, entry] of messages) {
      if (ACTIVE.has(entry.status) && entry.el.dataset.role === "assistant") resume(entry, id);
    }
  }

  // The branch changed (a regenerated answer, an edit, another version chosen):
  // swap in the branch as the server renders it.
  async function refreshTranscript() {
    if (!conversationId) return;
    if (refreshing) { refreshing.again = true; return; }
    refreshing = { again: false };
    try {
      const url = chat.dataset.transcriptUrl.replace("/0/", `/${conversationId}/`);
      const scrolled = transcript.scrollTop;
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      transcript.innerHTML = await response.text(); // rendered and sanitized on the server
      messages.clear();
      readSources();
      transcript.querySelectorAll("article.message").forEach(adopt);
      updateComposer();
      // A new answer of one's own is followed; another version chosen keeps the place.
      if (followNextRefresh) followNow();
      else transcript.scrollTop = scrolled;
      followNextRefresh = false;
      resumeActive();
    } catch (error) {
      showError("The conversation could not be refreshed. Reload the page to see the latest.");
    } finally {
      const again = refreshing.again;
      refreshing = null;
      if (again) refreshTranscript();
    }
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
    transcript.classList.toggle("busy", busy);
  }

  // --- sidebar --------------------------------------------------------------

  function group(name) {
    return conversationList.querySelector(`.conversation-group[data-group="${name}"]`);
  }

  function upsertConversation(item) {
    let li = conversationList.querySelector(`li[data-id="${item.id}"]`);
    if (item.deleted) {
      if (li) li.remove();
      if (item.id === conversationId) window.location.assign("/");
      return;
    }
    if (item.id === conversationId && item.current_id && messages.size && !messages.has(item.current_id)) {
      refreshTranscript(); // another tab chose another version
    }
    if (item.archived) {
      if (li && !li.closest(".archived-group")) li.remove();
      return;
    }
    if (item.source === "api") return; // listed apart, under From the API, on the next page load
    if (!li) {
      li = document.createElement("li");
      li.dataset.id = item.id;
      const a = document.createElement("a");
      a.href = chat.dataset.conversationUrl.replace("/0/", `/${item.id}/`);
      li.appendChild(a);
    }
    const a = li.querySelector("a");
    a.textContent = item.title || "New conversation";
    if (item.id === conversationId) {
      li.classList.add("current");
      a.setAttribute("aria-current", "page");
      if (item.title) document.getElementById("conversation-title").textContent = item.title;
    }
    const target = group(item.pinned ? "Pinned" : "Today");
    if (!target) return;
    const list = target.querySelector("ul");
    if (!item.pinned || li.parentElement !== list) list.prepend(li); // newest activity first
    target.hidden = false;
    conversationList.querySelectorAll(".conversation-group").forEach((section) => {
      section.hidden = !section.querySelector("li");
    });
  }

  // --- socket ---------------------------------------------------------------

  function sendRequest(payload) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(payload));
    return true;
  }

  // A click made while the socket (re)connects goes out once it is open.
  const waitingRequests = [];
  function requestWhenOpen(payload) {
    if (!sendRequest(payload)) waitingRequests.push(payload);
  }

  function showError(text) {
    composerError.textContent = text || "";
  }

  function showConnection(text, kind) {
    connectionState.textContent = text;
    connectionState.dataset.kind = kind || "";
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}${chat.dataset.wsPath}`);
    let opened = false;
    socket.addEventListener("open", () => {
      opened = true;
      sessionEnded = false;
      signedOut = false;
      reconnectDelay = 500;
      if (everConnected && failedConnects) {
        showConnection("Reconnected.", "ok");
        setTimeout(() => { if (connectionState.dataset.kind === "ok") showConnection(""); }, 2500);
      } else {
        showConnection("");
      }
      failedConnects = 0;
      everConnected = true;
      if (conversationId) sendRequest({ type: "open", conversation_id: conversationId });
      if (outbox) {
        sendRequest(outbox);
        outbox = null;
      }
      while (waitingRequests.length) sendRequest(waitingRequests.shift());
      resumeActive();
    });
    socket.addEventListener("message", (event) => {
      const data = JSON.parse(event.data);
      switch (data.type) {
        case "chunk": applyChunk(data); break;
        case "message": onMessage(data); break;
        case "created": onCreated(data); break;
        case "conversation": upsertConversation(data.conversation); break;
        case "chosen": refreshTranscript(); break;
        case "error": onError(data); break;
        case "waiting": onWaiting(data); break;
        default: break;
      }
    });
    socket.addEventListener("close", (event) => {
      // 4401: the session ended (signed out, account disabled, password changed).
      // It may be this tab's own password change, whose new cookie opens the
      // next socket; when the next one is refused too, the person is signed out.
      signedOut = sessionEnded && !opened;
      if (event.code === 4401) sessionEnded = true;
      failedConnects += 1;
      if (signedOut) {
        showConnection("You are signed out. Sign in again (in another tab, to keep what you typed here).", "lost");
      } else {
        showConnection(
          failedConnects > 3
            ? "Still reconnecting… check your network. Your text stays in the box."
            : "Connection lost, reconnecting…",
          "lost",
        );
      }
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
    document.querySelectorAll(".conversation-action").forEach((el) => { el.hidden = false; });
    document.querySelectorAll("form[data-action]").forEach((form) => {
      form.action = form.dataset.action.replace("/0/", `/${conversationId}/`);
    });
    document.querySelectorAll("a[data-href]").forEach((link) => {
      link.href = link.dataset.href.replace("/0/", `/${conversationId}/`);
    });
    const titleInput = document.getElementById("rename-title");
    if (titleInput) titleInput.value = data.conversation.title;
  }

  function onMessage(data) {
    upsertMessage(data.message);
    // Sent with an answer that has ended, to its owner only: the figure under their name.
    if (Number.isInteger(data.tokens_today)) {
      const today = document.querySelector(".token-usage .tokens-today");
      if (today) today.textContent = String(data.tokens_today);
    }
    if (pendingSend && data.ref === pendingSend.ref) {
      if (pendingSend.edit) {
        pendingSend = null;
        return;
      }
      pendingSend = null;
      input.value = "";
      growComposer();
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
    if (pendingSend && pendingSend.edit && data.ref === pendingSend.ref) {
      const form = pendingSend.edit;
      pendingSend = null;
      form.querySelector("button[type=submit]").disabled = false;
      showEditError(form, data.error);
      return;
    }
    showError(data.error);
    if (pendingSend && (data.ref === pendingSend.ref || data.request === "send")) {
      pendingSend = null; // the text stays in the composer
      sendButton.disabled = false;
    }
  }

  // --- composer -------------------------------------------------------------

  function nextRef() {
    return `r${Date.now()}-${++refCounter}`;
  }

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
    if (text.length > maxChars) {
      showError(`The message is too long (${text.length} characters; the limit is ${maxChars}). Shorten it or split it in parts.`);
      return;
    }
    const ref = nextRef();
    const payload = { type: "send", ref, conversation_id: conversationId, text, ...extra };
    if (!conversationId && botPicker) payload.bot = botPicker.value;
    if (!sendRequest(payload)) {
      outbox = payload; // goes out as soon as the socket opens; the text stays meanwhile
      // Signed out, the socket will not open by itself: that is what the person must read.
      if (!signedOut) showConnection("Connecting… your message will be sent as soon as the connection is up.", "lost");
    }
    pendingSend = { ref };
    sendButton.disabled = true;
    followNow();
  }

  // The box grows with its text up to a limit (CSS field-sizing where supported).
  const growsByItself = window.CSS && CSS.supports("field-sizing", "content");
  function growComposer() {
    if (!growsByItself) {
      input.style.height = "auto";
      input.style.height = `${input.scrollHeight + 2}px`;
    }
    const length = input.value.length;
    // Nothing is cut: a paste over the limit stays whole, and says by how much it is over.
    if (length > maxChars) charCount.textContent = `${length} / ${maxChars} characters: ${length - maxChars} over the limit`;
    else charCount.textContent = length > maxChars * 0.9 ? `${length} / ${maxChars} characters` : "";
    charCount.classList.toggle("over", length > maxChars);
  }

  function stop() {
    const id = activeReply();
    if (id !== null) sendRequest({ type: "stop", message_id: id });
    return id !== null;
  }

  async function copyText(text, button) {
    try {
      await navigator.clipboard.writeText(text);
      flashLabel(button, "Copied");
    } catch (error) {
      flashLabel(button, "Copy failed");
    }
  }

  function flashLabel(button, text) {
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = text;
    button.classList.add("flashed");
    announcer.textContent = text;
    setTimeout(() => { button.textContent = label; button.classList.remove("flashed"); }, 1500);
  }

  // --- editing a question -----------------------------------------------------

  function openEdit(article) {
    if (article.querySelector(".edit-form")) return;
    const form = editTemplate.content.firstElementChild.cloneNode(true);
    const box = form.querySelector("textarea");
    box.value = sources[article.dataset.id] !== undefined ? sources[article.dataset.id] : article.querySelector(".message-body").innerText;
    article.classList.add("editing");
    article.querySelector(".message-body").after(form);
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  }

  function closeEdit(article) {
    const form = article.querySelector(".edit-form");
    if (form) form.remove();
    article.classList.remove("editing");
    const edit = article.querySelector(".edit-message");
    if (edit) edit.focus();
  }

  function showEditError(form, text) {
    let note = form.querySelector(".edit-error");
    if (!note) {
      note = document.createElement("p");
      note.className = "edit-error";
      note.setAttribute("role", "alert");
      form.prepend(note);
    }
    note.textContent = text;
  }

  function sendEdit(form) {
    const article = form.closest(".message");
    const text = form.elements.text.value.trim();
    if (!text && !article.querySelector(".message-image")) { showEditError(form, "Type a message first."); return; }
    const ref = nextRef();
    if (!sendRequest({ type: "edit", ref, message_id: Number(article.dataset.id), text })) {
      showEditError(form, "Not connected: wait for the connection to come back, then try again.");
      return;
    }
    pendingSend = { ref, edit: form };
    followNextRefresh = true;
    form.querySelector("button[type=submit]").disabled = true;
  }

  // --- events ---------------------------------------------------------------

  composer.addEventListener("submit", (event) => { event.preventDefault(); submit(); });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", growComposer);
  stopButton.addEventListener("click", stop);

  transcript.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button || !transcript.contains(button)) return;
    const article = button.closest(".message");
    const id = article ? Number(article.dataset.id) : null;
    if (button.classList.contains("retry")) {
      requestWhenOpen({ type: "retry", message_id: id });
      followNextRefresh = true;
    } else if (button.classList.contains("copy-message")) {
      copyText(sources[id] !== undefined ? sources[id] : article.querySelector(".message-body").innerText, button);
    } else if (button.classList.contains("copy-code")) {
      const pre = button.closest(".code-block").querySelector("pre");
      const code = pre.querySelector("code") || pre;
      copyText(code.textContent.replace(/\n$/, ""), button);
    } else if (button.classList.contains("edit-message")) {
      openEdit(article);
    } else if (button.classList.contains("edit-cancel")) {
      closeEdit(article);
    } else if (button.classList.contains("version-step") && button.dataset.version) {
      requestWhenOpen({ type: "choose", message_id: Number(button.dataset.version) });
    }
  });
  transcript.addEventListener("submit", (event) => {
    const form = event.target.closest(".edit-form");
    if (!form) return;
    event.preventDefault();
    sendEdit(form);
  });
  transcript.addEventListener("keydown", (event) => {
    const form = event.target.closest(".edit-form");
    if (!form) return;
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      closeEdit(form.closest(".message"));
    } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendEdit(form);
    }
  });

  transcript.addEventListener("scroll", () => {
    following = distanceFromBottom() < 80;
    if (following) stuckAt = transcript.scrollTop;
    jumpButton.hidden = following;
  }, { passive: true });
  jumpButton.addEventListener("click", () => {
    followNow();
    input.focus();
  });

  // Shortcuts that need the transcript; page.js has the others.
  document.addEventListener("keydown", (event) => {
    const mod = event.ctrlKey || event.metaKey;
    if (event.key === "Escape" && !event.shiftKey && !event.defaultPrevented && !document.querySelector("dialog[open]")) {
      if (stop()) event.preventDefault();
    } else if (mod && event.shiftKey && event.key.toLowerCase() === "c") {
      const answers = transcript.querySelectorAll("article.message.assistant");
      const last = answers[answers.length - 1];
      if (!last) return;
      event.preventDefault();
      copyText(sources[last.dataset.id] || last.querySelector(".message-body").innerText, last.querySelector(".copy-message"));
    }
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

  window.addEventListener("offline", () => showConnection("You are offline. Your text stays in the box; it can be sent once you are back.", "lost"));
  window.addEventListener("online", () => {
    if (socket && socket.readyState === WebSocket.OPEN) showConnection("");
    else if (!signedOut) showConnection("Back online, reconnecting…", "lost");
  });

  readSources();
  transcript.querySelectorAll("article.message").forEach(adopt);
  updateComposer();
  growComposer();
  const found = chat.dataset.found && document.getElementById(`message-${chat.dataset.found}`);
  if (found) {
    following = false;
    found.scrollIntoView({ block: "center" });
    found.focus({ preventScroll: true });
  } else {
    followNow();
  }
  connect();
})();
