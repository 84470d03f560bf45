// Runs before the page paints: a theme the user chose wins over the system's.
(function () {
  "use strict";
  try {
    const chosen = window.localStorage.getItem("theme");
    if (chosen === "dark" || chosen === "light") document.documentElement.dataset.theme = chosen;
  } catch (error) { /* storage blocked: follow the system */ }
})();
