// Keeps an issue's delivery counts up to date while it is sending, without reloading:
// polls the admin's progress JSON every 2 seconds and stops once the send is over.
// Without JavaScript the page shows the counts as they were when it loaded.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const panel = document.getElementById("issue-progress");
  if (!panel || !panel.dataset.progressUrl) return;
  const INTERVAL_MS = 2000;
  const MAX_BACKOFF_MS = 30000;
  const url = panel.dataset.progressUrl;
  const field = (name) => panel.querySelector(`[data-field="${name}"]`);
  let failures = 0;

  const cell = (text, className) => {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  };

  const showWhile = (phase) => {
    // Elements anywhere on the page shown only in some phases of the send (e.g.
    // "Resume sending", "Cancel send"): space-separated phase names.
    const listed = (value) => value.split(" ").includes(phase);
    for (const element of document.querySelectorAll("[data-show-while]")) {
      element.hidden = !listed(element.dataset.showWhile);
    }
    for (const element of document.querySelectorAll("[data-show-while-not]")) {
      element.hidden = listed(element.dataset.showWhileNot);
    }
  };

  const render = (data) => {
    panel.dataset.status = data.phase;
    field("status_label").textContent = data.status_label;
    field("done").textContent = data.done;
    field("total").textContent = data.total;
    const bar = field("bar");
    bar.max = Math.max(data.total, 1);
    bar.value = data.done;
    bar.textContent = `${data.done} / ${data.total}`;
    bar.hidden = data.status === "scheduled";
    for (const row of data.rows) {
      const td = panel.querySelector(`[data-count="${row.status}"]`);
      if (!td) continue;
      td.textContent = row.count;
      td.classList.toggle("is-zero", row.count === 0);
    }
    const body = field("problems");
    const rows = data.problems.map((problem) => {
      const tr = document.createElement("tr");
      tr.append(
        cell(problem.email),
        cell(problem.status_label),
        cell(problem.smtp_code === null ? "" : String(problem.smtp_code)),
        cell(problem.error, "problem-error"),
      );
      return tr;
    });
    if (!rows.length) {
      const tr = document.createElement("tr");
      tr.className = "no-problems";
      const td = cell("None.");
      td.colSpan = 4;
      tr.append(td);
      rows.push(tr);
    }
    body.replaceChildren(...rows);
    // The read-only "Status" field of the form below follows too.
    const statusField = document.querySelector(".field-send_status .readonly");
    if (statusField) statusField.textContent = data.status_label;
    showWhile(data.phase);
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
      field("poll-state").textContent = "(Could not update; trying again.)";
      window.setTimeout(poll, Math.min(INTERVAL_MS * 2 ** failures, MAX_BACKOFF_MS));
      return;
    }
    failures = 0;
    field("poll-state").textContent = "";
    render(data);
    if (data.poll) {
      window.setTimeout(poll, INTERVAL_MS);
    } else if (data.status === "sent") {
      field("poll-state").textContent = "(Finished.)";
    }
  };

  if (panel.dataset.poll === "1") {
    field("poll-state").textContent = "(Updates every 2 seconds.)";
    window.setTimeout(poll, INTERVAL_MS);
  }
});
