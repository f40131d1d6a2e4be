// pullstats dashboard: small progressive enhancements; every page works without them.
"use strict";

// A GET form marked data-autosubmit is sent when one of its selects changes (its button
// stays for keyboard and script-less use).
document.querySelectorAll("form[data-autosubmit]").forEach((form) => {
  form.querySelectorAll("select").forEach((select) => {
    select.addEventListener("change", () => form.requestSubmit());
  });
});

// A button marked data-copy copies the text of the element its value names.
document.querySelectorAll("button[data-copy]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", async () => {
    const source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) return;
    await navigator.clipboard.writeText(source.textContent.trim());
    button.textContent = "Copied";
  });
});
