// pullstats dashboard: small progressive enhancements; every page works without them.
"use strict";

// A GET form marked data-autosubmit is sent when one of its selects is changed with a pointer
// (or by a script). A change made with the keyboard is not sent: the arrow keys on a closed
// select change its value at once, and leaving the page at each step would take keyboard users
// away before they reach the option they want (WCAG 3.2.2). They send it with Enter or with the
// form's button (which also serves without script). When a select sends its form, focus comes
// back to it on the page that answers.
const FOCUS_AFTER_LOAD = "pullstats-focus-after-load";

function sendFrom(form, select) {
  try {
    const target = new URL(form.action, document.baseURI).pathname;
    sessionStorage.setItem(FOCUS_AFTER_LOAD, JSON.stringify({ id: select.id, path: target }));
  } catch (error) {
    // no session storage (a private mode): focus is not restored, the form is sent all the same
  }
  form.requestSubmit();
}

document.querySelectorAll("form[data-autosubmit]").forEach((form) => {
  form.querySelectorAll("select").forEach((select) => {
    let byKeyboard = false;
    select.addEventListener("pointerdown", () => { byKeyboard = false; });
    select.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();  // rather than open the list (Linux)
        sendFrom(form, select);
      } else {
        byKeyboard = true;
      }
    });
    select.addEventListener("change", () => {
      if (!byKeyboard) sendFrom(form, select);
    });
  });
});

(function focusAfterLoad() {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(FOCUS_AFTER_LOAD) || "null");
    sessionStorage.removeItem(FOCUS_AFTER_LOAD);
  } catch (error) {
    return;
  }
  if (!saved || saved.path !== location.pathname) return;
  const control = document.getElementById(saved.id);
  if (control) control.focus();
})();

// A button marked data-copy copies the text of the element its value names. It stays hidden
// where there is no clipboard to write to (plain http on another name than localhost): the text
// is selected and copied by hand there.
document.querySelectorAll("button[data-copy]").forEach((button) => {
  if (!navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    await navigator.clipboard.writeText(source.textContent.trim());
    button.textContent = "Copied";
  });
});
