// Shows "n / max characters" under text fields that have a maxlength, so editors
// see SEO title and description limits while typing. Without JS the help text says it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const ids = ["id_summary", "id_seo_title", "id_seo_description", "id_cover_image_alt"];
  for (const id of ids) {
    const field = document.getElementById(id);
    if (!field || !field.maxLength || field.maxLength < 0) continue;
    const counter = document.createElement("div");
    counter.className = "help length-hint";
    counter.setAttribute("aria-live", "polite");
    const update = () => {
      counter.textContent = `${field.value.length} / ${field.maxLength} characters`;
    };
    field.addEventListener("input", update);
    (field.closest(".flex-container") || field).insertAdjacentElement("afterend", counter);
    update();
  }
});
