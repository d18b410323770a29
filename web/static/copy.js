// Enables the "Copy" buttons of the code page. Without this script the
// code stays in a read-only field, ready to select and copy by hand.
"use strict";
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  var field = document.getElementById(button.getAttribute("data-copy"));
  if (!field || !navigator.clipboard) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(field.value).then(
      function () { button.textContent = "Copied"; },
      function () { field.select(); }
    );
  });
});
