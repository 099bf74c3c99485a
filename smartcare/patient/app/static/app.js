/* SmartCare app shell: registers the app's service worker on /app pages, drops the offline copy of the health
   record on any signed-out page, and shows the live queue number on the home. */
"use strict";

(function () {
  const script = document.currentScript;
  const options = script ? script.dataset : {};

  function register() {
    if (options.register !== "1" || !("serviceWorker" in navigator)) return;
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app" }).catch(() => { /* the pages still work online */ });
  }

  function clearOfflineRecord() {
    // Signed out (or never signed in): nobody's health record may stay readable on this device.
    if (options.signedIn === "1" || !("caches" in window)) return;
    caches.keys().then((names) => Promise.all(names
      .filter((name) => name.startsWith("smartcare-app-record-") || name === "smartcare-app-who")
      .map((name) => caches.delete(name)))).catch(() => {});
  }

  function showQueue(box) {
    const session = box.dataset.queueSession;
    const appointment = box.dataset.appointment;
    fetch("/api/v1/queue/" + encodeURIComponent(session), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : null))
      .then((queue) => {
        if (!queue) return;
        const mine = (queue.mine || []).find((t) => t.appointment.endsWith(appointment)) || (queue.mine || [])[0];
        // Only a waiting ticket has people ahead of it; a called one is the patient's turn, any other is over.
        if (!mine || (mine.status !== "waiting" && mine.status !== "called")) return;
        box.textContent = mine.status === "called" ? box.dataset.called : box.dataset.text
          .replace("{number}", String(mine.number))
          .replace("{ahead}", mine.ahead === null || mine.ahead === undefined ? "?" : String(mine.ahead));
        box.hidden = false;
      })
      .catch(() => { /* the queue page still shows it */ });
  }

  register();
  clearOfflineRecord();
  document.querySelectorAll("[data-queue-session]").forEach(showQueue);
})();
