// Images in the composer: attach (button, drag and drop, paste), upload at
// once, preview, and send their ids with the message. Rendering of images in
// the transcript plugs into the chat page's hooks too.
//
// The server decides what is an image; a file it refuses gets its reason
// next to its preview while the text and the other images stay put.
(function () {
  "use strict";

  const root = document.getElementById("image-composer");
  const page = window.chatPage;
  if (!root || !page) return;

  const chat = document.getElementById("chat");
  const input = document.getElementById("attach-input");
  const button = document.getElementById("attach-button");
  const list = document.getElementById("image-previews");
  const note = document.getElementById("image-mode-note");
  const botPicker = document.getElementById("bot-picker");
  const modes = JSON.parse(document.getElementById("image-modes").textContent);
  const uploadUrl = root.dataset.uploadUrl;
  const maxImages = Number(root.dataset.maxImages);
  const maxBytes = Number(root.dataset.maxBytes);

  const items = []; // {el, file, state: "uploading" | "ready" | "failed", image, abort}
  let sentIds = new Set(); // ids handed to the last send, cleared once it is confirmed

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function megabytes(bytes) {
    return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  }

  function counted() {
    return items.filter((item) => item.state !== "failed");
  }

  // --- previews -------------------------------------------------------------

  function createItem(file) {
    const name = file.name || "pasted image";
    const el = document.createElement("li");
    el.className = "image-preview";
    el.dataset.state = "uploading";
    const img = document.createElement("img");
    img.alt = `Preview of ${name}`;
    const url = URL.createObjectURL(file);
    img.src = url;
    img.addEventListener("error", () => { img.hidden = true; }); // not a picture the browser can show
    const label = document.createElement("span");
    label.className = "image-preview-name";
    label.textContent = name;
    const state = document.createElement("span");
    state.className = "image-preview-state";
    state.setAttribute("role", "status");
    state.textContent = "Uploading…";
    const error = document.createElement("span");
    error.className = "image-preview-error";
    error.setAttribute("role", "alert");
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "image-preview-remove";
    remove.setAttribute("aria-label", `Remove ${name}`);
    remove.textContent = "×";
    el.append(img, label, state, error, remove);
    list.appendChild(el);
    const item = { el, file, name, url, state: "uploading", image: null, abort: null };
    remove.addEventListener("click", () => removeItem(item));
    items.push(item);
    return item;
  }

  function setState(item, state, text) {
    item.state = state;
    item.el.dataset.state = state;
    item.el.querySelector(".image-preview-state").textContent = state === "uploading" ? "Uploading…" : "";
    item.el.querySelector(".image-preview-error").textContent = text || "";
  }

  function fail(item, reason) {
    setState(item, "failed", `${item.name}: ${reason}`);
    item.el.querySelector("img").hidden = true;
    item.el.querySelector(".image-preview-remove").setAttribute("aria-label", `Dismiss the error about ${item.name}`);
  }

  function removeItem(item) {
    if (item.abort) item.abort.abort();
    URL.revokeObjectURL(item.url);
    item.el.remove();
    const index = items.indexOf(item);
    if (index >= 0) items.splice(index, 1);
  }

  // --- uploads --------------------------------------------------------------

  async function upload(item) {
    const form = new FormData();
    form.append("image", item.file, item.file.name || "pasted-image.png");
    item.abort = new AbortController();
    let response;
    try {
      response = await fetch(uploadUrl, {
        method: "POST",
        body: form,
        headers: { "X-CSRFToken": csrfToken() },
        credentials: "same-origin",
        signal: item.abort.signal,
      });
    } catch (error) {
      if (error.name !== "AbortError") fail(item, "the upload failed: the server could not be reached.");
      return;
    } finally {
      item.abort = null;
    }
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = null;
    }
    if (!items.includes(item)) return; // removed meanwhile
    if (response.ok && body && body.image) {
      item.image = body.image;
      setState(item, "ready");
    } else if (body && body.error) {
      fail(item, body.error);
    } else if (response.redirected) {
      fail(item, "you have been signed out; sign in again and attach it again.");
    } else {
      fail(item, `the upload failed (HTTP ${response.status}).`);
    }
  }

  function addFiles(files) {
    for (const file of files) {
      const item = createItem(file);
      if (counted().length > maxImages) {
        fail(item, `a message can carry at most ${maxImages} images.`);
      } else if (file.size > maxBytes) {
        fail(item, `the file is too large (${megabytes(file.size)}); the limit is ${megabytes(maxBytes)}.`);
      } else {
        upload(item);
      }
    }
  }

  button.addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    addFiles(Array.from(input.files));
    input.value = ""; // choosing the same file again fires "change" again
  });

  chat.addEventListener("paste", (event) => {
    const files = Array.from((event.clipboardData && event.clipboardData.files) || []);
    if (!files.length) return;
    // Text copied along with a picture (from a document) still goes in the box.
    if (!event.clipboardData.getData("text/plain")) event.preventDefault();
    addFiles(files);
  });

  function carriesFiles(event) {
    return event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files");
  }
  chat.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    chat.classList.add("dropping");
  });
  chat.addEventListener("dragleave", (event) => {
    if (event.target === chat || !chat.contains(event.relatedTarget)) chat.classList.remove("dropping");
  });
  chat.addEventListener("drop", (event) => {
    chat.classList.remove("dropping");
    if (!carriesFiles(event)) return;
    event.preventDefault();
    addFiles(Array.from(event.dataTransfer.files));
  });

  // --- sending ----------------------------------------------------------------

  page.hooks.beforeSend.push((extra) => {
    if (items.some((item) => item.state === "uploading")) return "Wait until the images have finished uploading.";
    const ids = items.filter((item) => item.state === "ready").map((item) => item.image.id);
    sentIds = new Set(ids);
    if (ids.length) extra.images = ids;
    return null;
  });

  page.hooks.resetComposer.push(() => {
    // Only what went with the confirmed message; anything attached since stays.
    for (const item of items.slice()) {
      if (item.state === "failed" || (item.image && sentIds.has(item.image.id))) removeItem(item);
    }
    sentIds = new Set();
  });

  // --- transcript -------------------------------------------------------------

  function thumbnail(image) {
    const link = document.createElement("a");
    link.className = "message-image";
    link.href = image.url;
    link.target = "_blank";
    link.rel = "noopener";
    const img = document.createElement("img");
    img.src = image.thumbnail_url;
    img.alt = `Attached image: ${image.name}`;
    if (image.thumbnail_width) img.width = image.thumbnail_width;
    if (image.thumbnail_height) img.height = image.thumbnail_height;
    img.loading = "lazy";
    link.appendChild(img);
    return link;
  }

  page.hooks.renderMessage.push((el, payload) => {
    const box = el.querySelector(".message-images");
    if (!box) return;
    const images = payload.images || [];
    const key = `${images.map((image) => image.id).join(",")}|${payload.images_left_out || 0}`;
    if (box.dataset.rendered === key) return; // unchanged: keep the loaded pictures
    box.dataset.rendered = key;
    box.replaceChildren(...images.map(thumbnail));
    const leftOut = payload.images_left_out || 0;
    if (leftOut) {
      const notice = document.createElement("p");
      notice.className = "images-left-out";
      notice.setAttribute("role", "note");
      notice.textContent = `${leftOut === 1 ? "1 earlier image was" : `${leftOut} earlier images were`} ` +
        "left out of this answer's prompt: the conversation is longer than the model's context.";
      box.appendChild(notice);
    }
  });

  // --- how the chosen model reads images ----------------------------------------

  if (botPicker) {
    botPicker.addEventListener("change", () => {
      note.hidden = modes[botPicker.value] !== "ocr";
    });
  }
})();
