// A source added with "Add another source" is numbered after the others, so the
// list reads in order. Without JavaScript a row left unnumbered still goes last.
"use strict";
document.addEventListener("formset:added", (event) => {
  if (event.detail.formsetName !== "references") return;
  const row = event.target;
  const field = row.querySelector("input[name$='-position']");
  if (!field || field.value) return;
  let highest = 0;
  for (const other of document.querySelectorAll("input[name^='references-'][name$='-position']")) {
    if (other !== field && !other.closest(".empty-form")) {
      highest = Math.max(highest, Number.parseInt(other.value, 10) || 0);
    }
  }
  field.value = highest + 1;
});
