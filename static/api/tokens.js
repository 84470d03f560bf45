// Copy buttons for a token shown once (here and in the admin).
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const text = document.getElementById(button.dataset.copy).textContent.trim();
      const label = button.textContent;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch (error) {
        button.textContent = "Copy failed: select the token and copy it";
      }
      setTimeout(() => { button.textContent = label; }, 2000);
    });
  });
})();
