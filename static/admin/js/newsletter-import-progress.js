// Keeps a subscriber import's page up to date while a worker checks or imports the
// file: polls the admin's progress JSON every 2 seconds, moves the bar, and reloads
// the page once the step is over so it shows the report (or the result).
// Without JavaScript the page refreshes itself every 5 seconds instead.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const panel = document.getElementById("import-progress");
  if (!panel || !panel.dataset.progressUrl || panel.dataset.poll !== "1") return;
  const INTERVAL_MS = 2000;
  const MAX_BACKOFF_MS = 30000;
  const url = panel.dataset.progressUrl;
  const field = (name) => panel.querySelector(`[data-field="${name}"]`);
  const setText = (name, text) => {
    const element = field(name);
    if (element) element.textContent = text;
  };
  let failures = 0;

  const render = (data) => {
    setText("status_label", data.status_label);
    setText("rows_done", data.rows_done);
    setText("total_rows", data.total_rows);
    const bar = field("bar");
    if (bar && data.status === "checking") {
      bar.max = Math.max(data.total_rows, 1);
      bar.value = data.rows_done;
      bar.textContent = `${data.rows_done} / ${data.total_rows}`;
    }
  };

  const poll = async () => {
    let data;
    try {
      const response = await fetch(url, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      data = await response.json();
    } catch (error) {
      failures += 1;
      setText("poll-state", "(Could not update; trying again.)");
      window.setTimeout(poll, Math.min(INTERVAL_MS * 2 ** failures, MAX_BACKOFF_MS));
      return;
    }
    failures = 0;
    setText("poll-state", "");
    render(data);
    if (data.status !== panel.dataset.status) {
      // The next step's page (report, import button, result) comes from the server.
      window.location.reload();
    } else if (data.poll) {
      window.setTimeout(poll, INTERVAL_MS);
    }
  };

  setText("poll-state", "(Updates every 2 seconds.)");
  window.setTimeout(poll, INTERVAL_MS);
});
