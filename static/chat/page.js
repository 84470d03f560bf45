// The page around the chat: theme toggle, the conversation drawer on phones,
// the shortcuts help and the shortcuts that work on every chat page.
(function () {
  "use strict";

  const root = document.documentElement;
  const dark = window.matchMedia("(prefers-color-scheme: dark)");

  // --- theme ----------------------------------------------------------------
  const themeToggle = document.getElementById("theme-toggle");
  function isDark() {
    return root.dataset.theme ? root.dataset.theme === "dark" : dark.matches;
  }
  // The button says what it does: switch to the other theme.
  function showTheme() {
    if (!themeToggle) return;
    themeToggle.textContent = isDark() ? "Light theme" : "Dark theme";
  }
  if (themeToggle) {
    themeToggle.addEventListener("click", () => {
      const next = isDark() ? "light" : "dark";
      root.dataset.theme = next;
      try { window.localStorage.setItem("theme", next); } catch (error) { /* not remembered */ }
      showTheme();
    });
    dark.addEventListener("change", showTheme);
    showTheme();
  }

  // --- drawer ---------------------------------------------------------------
  const sidebar = document.getElementById("sidebar");
  const scrim = document.getElementById("scrim");
  const opener = document.getElementById("drawer-open");
  const closer = document.getElementById("drawer-close");
  function setDrawer(open) {
    if (!sidebar) return;
    sidebar.classList.toggle("open", open);
    scrim.hidden = !open;
    if (opener) opener.setAttribute("aria-expanded", String(open));
    if (open) {
      const first = sidebar.querySelector("a, button, input");
      if (first) first.focus();
    } else if (opener && sidebar.contains(document.activeElement)) {
      opener.focus();
    }
  }
  if (opener) opener.addEventListener("click", () => setDrawer(!sidebar.classList.contains("open")));
  if (closer) closer.addEventListener("click", () => setDrawer(false));
  if (scrim) scrim.addEventListener("click", () => setDrawer(false));

  // --- the conversation's menu ------------------------------------------------
  const actionsToggle = document.getElementById("actions-toggle");
  const menu = document.getElementById("conversation-actions");
  function setMenu(open) {
    if (!menu) return;
    menu.hidden = !open;
    actionsToggle.setAttribute("aria-expanded", String(open));
    if (open) {
      const first = menu.querySelector(".menu-item");
      if (first) first.focus();
    }
  }
  if (actionsToggle && menu) {
    actionsToggle.addEventListener("click", () => setMenu(menu.hidden));
    // A link (an export) leaves the page where it is: the menu closes behind it.
    menu.addEventListener("click", (event) => { if (event.target.closest("a.menu-item")) setMenu(false); });
    document.addEventListener("click", (event) => {
      if (!menu.hidden && !menu.contains(event.target) && event.target !== actionsToggle) setMenu(false);
    });
    menu.addEventListener("keydown", (event) => {
      const items = [...menu.querySelectorAll(".menu-item")];
      const index = items.indexOf(document.activeElement);
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        setMenu(false);
        actionsToggle.focus();
      } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        items[(index + step + items.length) % items.length].focus();
      }
    });
  }

  // --- rename in place ----------------------------------------------------------
  const title = document.getElementById("conversation-title");
  const renameForm = document.getElementById("rename-form");
  function setRenaming(on) {
    if (!renameForm) return;
    renameForm.hidden = !on;
    title.hidden = on;
    const box = renameForm.elements.title;
    if (on) {
      box.value = title.textContent.trim();
      box.focus();
      box.select();
    } else {
      title.focus({ preventScroll: true });
    }
  }
  if (renameForm) {
    title.tabIndex = -1;
    document.getElementById("rename-start").addEventListener("click", () => { setMenu(false); setRenaming(true); });
    document.getElementById("rename-cancel").addEventListener("click", () => setRenaming(false));
    title.addEventListener("dblclick", () => { if (renameForm.getAttribute("action")) setRenaming(true); });
    renameForm.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        setRenaming(false);
      }
    });
  }

  // --- delete, with a few seconds to undo ------------------------------------------
  // Nothing is deleted until the time is up (or the page is left): Undo just cancels.
  const UNDO_SECONDS = 6;
  const deleteForm = document.getElementById("delete-form");
  const undoBar = document.getElementById("undo-bar");
  let pendingDelete = null;
  function sendDelete(viaBeacon) {
    if (!pendingDelete) return;
    const { action, body } = pendingDelete;
    pendingDelete = null;
    if (viaBeacon) {
      navigator.sendBeacon(action, body);
      return;
    }
    fetch(action, { method: "POST", body, credentials: "same-origin" })
      .then((response) => {
        if (!response.ok) throw new Error(String(response.status));
        window.location.assign("/");
      })
      .catch(() => {
        undoBar.hidden = true;
        document.querySelector(".chat").classList.remove("deleting");
        const error = document.getElementById("composer-error");
        if (error) error.textContent = "The conversation could not be deleted. Check your connection and try again.";
      });
  }
  if (deleteForm && undoBar) {
    deleteForm.addEventListener("submit", (event) => {
      event.preventDefault();
      setMenu(false);
      const chat = document.querySelector(".chat");
      const id = chat.dataset.conversationId;
      const item = document.querySelector(`#conversation-list li[data-id="${id}"]`);
      pendingDelete = {
        action: deleteForm.action,
        body: new FormData(deleteForm),
        timer: setTimeout(() => sendDelete(false), UNDO_SECONDS * 1000),
        item,
      };
      if (item) item.hidden = true;
      chat.classList.add("deleting");
      undoBar.hidden = false;
      document.getElementById("undo-delete").focus();
    });
    document.getElementById("undo-delete").addEventListener("click", () => {
      if (!pendingDelete) return;
      clearTimeout(pendingDelete.timer);
      if (pendingDelete.item) pendingDelete.item.hidden = false;
      pendingDelete = null;
      undoBar.hidden = true;
      document.querySelector(".chat").classList.remove("deleting");
      actionsToggle.focus();
    });
    window.addEventListener("pagehide", () => sendDelete(true));
  }

  // --- shortcuts --------------------------------------------------------------
  const help = document.getElementById("shortcuts-dialog");
  const helpButton = document.getElementById("shortcuts-button");
  if (helpButton && help) helpButton.addEventListener("click", () => help.showModal());

  function focusComposer() {
    const input = document.getElementById("message-input");
    if (input) input.focus();
    else window.location.assign("/");
  }

  document.addEventListener("keydown", (event) => {
    const mod = event.ctrlKey || event.metaKey;
    const key = event.key.toLowerCase();
    if (mod && event.shiftKey && key === "o") {
      event.preventDefault();
      window.location.assign("/");
    } else if (event.shiftKey && event.key === "Escape") {
      event.preventDefault();
      setDrawer(false);
      focusComposer();
    } else if (mod && !event.shiftKey && key === "k") {
      event.preventDefault();
      setDrawer(true);
      const search = document.getElementById("search-input");
      search.focus();
      search.select();
    } else if (mod && (key === "/" || key === "?")) {
      event.preventDefault();
      if (help && !help.open) help.showModal();
    } else if (event.key === "Escape" && sidebar && sidebar.classList.contains("open")) {
      event.preventDefault(); // closes the drawer before anything else
      setDrawer(false);
    }
  });
})();
