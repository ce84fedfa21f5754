// One view of this article, counted on our own server (articles/readership/):
// no cookie is sent or set, and all that leaves the page about the reader is the
// host they came from, which the server turns into a category and drops.
(function () {
  "use strict";
  var tag = document.currentScript;
  var article = tag && Number(tag.getAttribute("data-article"));
  if (!article || !window.fetch) return;
  // The newsletter's click link lands here with this fragment: never sent to a
  // server, so it splits no cache. Taken off, so a shared link counts as shared.
  var newsletter = location.hash === "#via-newsletter";
  if (newsletter && history.replaceState) {
    history.replaceState(history.state, "", location.pathname + location.search);
  }
  var host = "";
  try {
    host = document.referrer ? new URL(document.referrer).hostname : "";
  } catch (error) {
    host = "";
  }
  function send() {
    fetch(tag.getAttribute("data-endpoint"), {
      method: "POST",
      credentials: "omit",
      keepalive: true,
      cache: "no-store",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ article: article, referrer_host: host, newsletter: newsletter })
    }).catch(function () {});
  }
  // A page prerendered in case the reader opens it is counted when they do.
  if (document.prerendering) {
    document.addEventListener("prerenderingchange", send, { once: true });
  } else {
    send();
  }
})();
