// Autosave on the article change and add form (includes/autosave.html).
//
// Every little while (data-interval-ms, 30 s), if an editable field changed since
// the page loaded or since the last copy, the fields are sent as JSON to the
// autosave endpoint, which keeps a draft copy for this user: no revision, nothing
// published. Leaving the page sends what is pending. When the page offers an
// earlier copy back, "Restore them" fills the form (CKEditor and the sources rows
// too) and "Discard" throws the copy away.
"use strict";
(() => {
  const panel = document.getElementById("autosave");
  if (!panel || !panel.dataset.url) return;
  const form = panel.closest("form");
  if (!form) return;
  const status = document.getElementById("autosave-status");
  const interval = Number(panel.dataset.intervalMs) || 30000;
  const prefix = panel.dataset.sourcesPrefix || "references";
  const TEXT = ["title", "slug", "summary", "seo_title", "seo_description", "cover_image_alt", "evidence"];
  const IDS = [["author", "author_id"], ["topic", "topic_id"]];
  const FLAGS = ["medical", "featured"];
  const SOURCE_FIELDS = ["title", "publisher", "year", "url", "doi", "pmid"];

  let lastSent = null; // the JSON last saved (or loaded): nothing to send while equal
  let sending = false;
  let stopped = false;
  let restoring = false;

  const field = (name) => {
    const element = form.elements.namedItem(name);
    return element instanceof Element ? element : null;
  };
  // A text field, a select, or a group of radio buttons (a RadioNodeList): all
  // have a value to read and set.
  const valued = (name) => {
    const element = form.elements.namedItem(name);
    return element instanceof Element || element instanceof RadioNodeList ? element : null;
  };
  const editor = () => (window.CKEDITOR && window.CKEDITOR.instances.id_body) || null;
  const editorReady = () => {
    const instance = editor();
    return instance ? instance.status === "ready" : !document.querySelector("textarea[data-type=ckeditortype]");
  };

  const show = (message, problem = false) => {
    if (!status) return;
    status.textContent = message;
    status.classList.toggle("is-problem", problem);
  };

  // Reading the form ------------------------------------------------------------
  const sourceRows = () => {
    const total = field(`${prefix}-TOTAL_FORMS`);
    if (!total) return null;
    const rows = [];
    for (let i = 0; i < Number(total.value); i += 1) {
      const get = (name) => field(`${prefix}-${i}-${name}`);
      const remove = get("DELETE");
      if (!get("title") || (remove && remove.checked)) continue;
      const source = {};
      for (const name of SOURCE_FIELDS) {
        const input = get(name);
        source[name] = input ? input.value.trim() : "";
      }
      source.year = /^\d+$/.test(source.year) ? Number(source.year) : null;
      if (!SOURCE_FIELDS.some((name) => source[name] !== "" && source[name] !== null)) continue;
      const position = get("position");
      rows.push({ position: position && position.value !== "" ? Number(position.value) : i, source });
    }
    return rows.sort((a, b) => a.position - b.position).map((row) => row.source);
  };

  const collect = () => {
    const data = {};
    for (const name of TEXT) {
      const input = valued(name);
      if (input) data[name] = input.value;
    }
    const instance = editor();
    const body = field("body");
    if (instance && instance.status === "ready") data.body = instance.getData();
    else if (body) data.body = body.value;
    for (const [name, key] of IDS) {
      const input = field(name);
      if (input) data[key] = /^\d+$/.test(input.value) ? Number(input.value) : null;
    }
    for (const name of FLAGS) {
      const input = field(name);
      if (input && input.type === "checkbox") data[name] = input.checked;
    }
    const sources = sourceRows();
    if (sources !== null) data.sources = sources;
    return JSON.stringify(data);
  };

  // Sending ---------------------------------------------------------------------
  const csrfToken = () => {
    const input = field("csrfmiddlewaretoken");
    return input ? input.value : "";
  };

  const send = async (json, { keepalive = false } = {}) => {
    sending = true;
    try {
      const response = await fetch(panel.dataset.url, {
        method: "POST",
        credentials: "same-origin",
        keepalive,
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: json,
      });
      const result = await response.json().catch(() => ({}));
      if (response.ok) {
        lastSent = json;
        show(result.message || "Saved a draft copy.");
      } else {
        // Refused (no longer allowed to edit, too big): not retried until the
        // form changes again.
        lastSent = json;
        show(result.error || `The draft copy was not saved (error ${response.status}).`, true);
      }
    } catch (error) {
      show("The draft copy was not saved: no connection. Trying again shortly.", true);
    } finally {
      sending = false;
    }
  };

  const tick = () => {
    if (stopped || sending || restoring || lastSent === null || !editorReady()) return;
    const json = collect();
    if (json !== lastSent) send(json);
  };

  // What the form holds once the editor is up is the starting point: only a
  // change from it is worth a copy.
  const start = () => {
    if (!editorReady()) {
      window.setTimeout(start, 100);
      return;
    }
    if (lastSent === null) lastSent = collect();
    window.setInterval(tick, interval);
  };

  form.addEventListener("submit", () => {
    // The save itself keeps the content (and drops the copy on the server).
    stopped = true;
  });
  window.addEventListener("pagehide", () => {
    if (stopped || lastSent === null || !editorReady()) return;
    const json = collect();
    if (json !== lastSent) send(json, { keepalive: true });
  });

  // Offering an earlier copy back ----------------------------------------------
  const setValue = (input, value) => {
    input.value = value;
    // Other scripts (length hints, the slug) follow the field's own events.
    const target = input instanceof RadioNodeList ? Array.from(input).find((radio) => radio.checked) : input;
    if (!target) return;
    target.dispatchEvent(new Event("input", { bubbles: true }));
    target.dispatchEvent(new Event("change", { bubbles: true }));
  };

  const sourceRow = (i) => {
    const total = field(`${prefix}-TOTAL_FORMS`);
    if (Number(total.value) <= i) {
      const add = document.querySelector(`#${prefix}-group .add-row a`);
      if (!add) return false;
      add.click();
    }
    return Boolean(field(`${prefix}-${i}-title`));
  };

  const fillSources = (sources) => {
    const total = field(`${prefix}-TOTAL_FORMS`);
    if (!total || !Array.isArray(sources)) return;
    sources.forEach((source, i) => {
      if (!sourceRow(i)) return;
      const remove = field(`${prefix}-${i}-DELETE`);
      if (remove) remove.checked = false;
      const position = field(`${prefix}-${i}-position`);
      if (position) setValue(position, String(i + 1));
      for (const name of SOURCE_FIELDS) {
        const input = field(`${prefix}-${i}-${name}`);
        if (input) setValue(input, source[name] === null || source[name] === undefined ? "" : String(source[name]));
      }
    });
    // Rows past the copy's sources go: saved ones marked for deletion, new
    // ones removed.
    for (let i = Number(total.value) - 1; i >= sources.length; i -= 1) {
      const remove = field(`${prefix}-${i}-DELETE`);
      const row = document.getElementById(`${prefix}-${i}`);
      const deleteLink = row && row.querySelector(".inline-deletelink");
      if (remove) remove.checked = true;
      else if (deleteLink) deleteLink.click();
    }
  };

  const whenEditorReady = (callback) => {
    if (editorReady()) callback();
    else window.setTimeout(() => whenEditorReady(callback), 100);
  };

  // Calls `done` once everything is in, CKEditor's body included.
  const fill = (data, done) => {
    for (const name of TEXT) {
      const input = valued(name);
      if (input && typeof data[name] === "string") setValue(input, data[name]);
    }
    for (const [name, key] of IDS) {
      const input = field(name);
      if (input && key in data) setValue(input, data[key] === null ? "" : String(data[key]));
    }
    for (const name of FLAGS) {
      const input = field(name);
      if (input && input.type === "checkbox" && typeof data[name] === "boolean") input.checked = data[name];
    }
    if ("sources" in data) fillSources(data.sources);
    const instance = editor();
    if (typeof data.body === "string" && instance) {
      instance.setData(data.body, { callback: done });
      return;
    }
    if (typeof data.body === "string" && field("body")) setValue(field("body"), data.body);
    done();
  };

  const offer = document.getElementById("autosave-offer");
  const restore = document.getElementById("autosave-restore");
  const discard = document.getElementById("autosave-discard");
  const saved = document.getElementById("autosave-data");
  if (offer && restore && saved) {
    restore.addEventListener("click", () => {
      restoring = true;
      whenEditorReady(() => {
        fill(JSON.parse(saved.textContent), () => {
          // The restored values are what the server holds already.
          lastSent = collect();
          restoring = false;
        });
        offer.remove();
        show(`Restored your unsaved changes from ${restore.dataset.savedAt}. Save the article to keep them.`);
      });
    });
  }
  if (offer && discard) {
    discard.addEventListener("click", async (event) => {
      event.preventDefault();
      try {
        const response = await fetch(panel.dataset.discardUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
        });
        if (!response.ok) throw new Error(String(response.status));
        offer.remove();
        show("Discarded your unsaved changes.");
      } catch (error) {
        // The confirmation page does it without this script.
        window.location.href = discard.href;
      }
    });
  }

  start();
})();
