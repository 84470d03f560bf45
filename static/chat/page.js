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
  function showTheme() {
    if (!themeToggle) return;
    themeToggle.setAttribute("aria-pressed", String(isDark()));
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

  // --- conversation actions on narrow screens ---------------------------------
  const actionsToggle = document.getElementById("actions-toggle");
  const actions = document.getElementById("conversation-actions");
  if (actionsToggle && actions) {
    actionsToggle.addEventListener("click", () => {
      const open = !actions.classList.contains("open");
      actions.classList.toggle("open", open);
      actionsToggle.setAttribute("aria-expanded", String(open));
    });
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
