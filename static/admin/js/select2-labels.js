// The admin's autocomplete boxes (select2) hide the <select> and show a combobox
// that is named only by its current choice: empty on a new row. Name it as the
// <select> is named (its <label>, or the aria-label a table row's input gets,
// core/admin.py LabelledTabularInline), followed by the choice.
"use strict";
{
  const nameOf = (select) => {
    const label = select.id && document.querySelector(`label[for="${select.id}"]`);
    if (label) {
      label.id ||= `${select.id}-label`;
      return label;
    }
    const text = select.getAttribute("aria-label");
    if (!text) return null;
    const span = document.createElement("span");
    span.id = `${select.id}-name`;
    span.hidden = true;
    span.textContent = text;
    select.after(span);
    return span;
  };

  const labelBoxes = (root) => {
    for (const select of root.querySelectorAll("select.admin-autocomplete")) {
      const box = select.nextElementSibling;
      if (!box || !box.classList.contains("select2") || box.dataset.labelled) continue;
      const name = nameOf(select);
      const combobox = box.querySelector(".select2-selection[role='combobox']");
      const choice = box.querySelector(".select2-selection__rendered");
      if (!name || !combobox || !choice) continue;
      combobox.setAttribute("aria-labelledby", `${name.id} ${choice.id}`);
      choice.setAttribute("aria-label", name.textContent.trim());
      box.dataset.labelled = "yes";
    }
  };

  // Django's autocomplete.js makes the boxes on jQuery's ready, which may come
  // after the page's load event, and on each new inline row: label each box as it
  // appears (an observer's callback runs once select2 has finished building it).
  new MutationObserver(() => labelBoxes(document)).observe(document, {
    childList: true,
    subtree: true,
  });
}
