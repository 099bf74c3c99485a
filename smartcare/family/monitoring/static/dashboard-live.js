/* Keeps the remote-monitoring dashboard live: every few seconds (data-refresh-seconds on #mon-live) it reads the page
   again and puts the fresh patient list in place, so readings the home devices send, and new or closed alerts,
   appear without a reload. The server renders the list (the access policy and audit apply as on the first load); this
   script only swaps it in. Rows whose content changed are marked for a while; the polite status region says how many
   changed (and nothing when nothing did, so a screen reader is not interrupted every few seconds); the "updated"
   line says when the list was last read. A hidden tab is not refreshed until it is shown again; an ended session
   stops the refreshing with a message. Every word shown comes from the template (data-text-* on #mon-live). */
(() => {
  "use strict";
  const region = document.getElementById("mon-live");
  const status = document.getElementById("mon-live-status");
  const updated = document.getElementById("mon-live-updated");
  if (!region || !status || !updated || !window.fetch || !window.DOMParser) { return; }

  const every = Math.max(3, Number(region.dataset.refreshSeconds) || 15) * 1000;
  const lang = document.documentElement.lang || undefined;
  let busy = false;
  let stopped = false;

  const clockText = () => new Date().toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const words = (name, values) => (region.dataset[name] || "").replace(/\{(\w+)\}/g, (_m, key) => String(values[key] ?? ""));
  const rowKey = (row) => {
    const link = row.querySelector("th a");
    return link ? link.getAttribute("href") : row.textContent;
  };
  const rowsOf = (root) => new Map([...root.querySelectorAll("tbody tr")].map((row) => [rowKey(row), row.textContent]));

  async function refresh() {
    if (busy || stopped || document.hidden) { return; }
    busy = true;
    try {
      const response = await fetch(window.location.href, {
        credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" },
      });
      if (response.redirected || response.status === 401 || response.status === 403) {
        stopped = true;
        status.textContent = words("textSignedOut", {});
        return;
      }
      if (!response.ok) { throw new Error(`HTTP ${response.status}`); }
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("mon-live");
      if (!fresh) { throw new Error("the page has no patient list"); }
      const before = rowsOf(region);
      region.replaceChildren(...[...fresh.childNodes].map((node) => document.importNode(node, true)));
      let changed = 0;
      region.querySelectorAll("tbody tr").forEach((row) => {
        if (before.get(rowKey(row)) !== row.textContent) {
          row.classList.add("monitoring-changed");
          changed += 1;
        }
      });
      region.dataset.refreshes = String(Number(region.dataset.refreshes || 0) + 1);
      updated.textContent = words("textUpdated", { time: clockText() });
      if (changed) {
        status.textContent = words(changed === 1 ? "textChangedOne" : "textChangedMany", { count: changed });
      }
    } catch (_error) {
      status.textContent = words("textFailed", { time: clockText() });
    } finally {
      busy = false;
    }
  }

  updated.textContent = words("textUpdated", { time: clockText() });
  window.setInterval(refresh, every);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) { refresh(); } });
  region.dataset.live = "true";
})();
