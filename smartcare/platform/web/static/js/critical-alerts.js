/* Live critical-value alerts on the workstation pages (included by the layout for staff, see
   templates/_critical_alerts.html, which holds every word shown here).

   A notification of a critical kind arriving on /ws/notifications becomes an alert dialog over the page: it
   takes the focus, the page behind is inert until it is closed, a click beside it does nothing, and it is
   closed only by acknowledging (its link opens the Task's page) or by "Later"; several stack, newest first.
   A short tone plays when the browser allows sound (after the person's first click or key on the page).
   The banner of values still waiting is fetched from the server on load, after each alert and after each
   reconnection, so nothing that arrived while the page was closed or offline is missed. */
(() => {
  "use strict";
  const stack = document.getElementById("crit-alerts");
  const banner = document.getElementById("crit-banner");
  const template = document.getElementById("crit-alert-template");
  if (!stack || !banner || !template || !("WebSocket" in window)) { return; }

  const kinds = (stack.dataset.kinds || "").split(/\s+/).filter(Boolean);
  const lang = document.documentElement.lang || undefined;
  const FIRST_DELAY = 1000;
  const MAX_DELAY = 30000;
  const SESSION_OVER = 1008;  // the server's close when the session has ended: only signing in again helps
  const open = new Map();  // link -> alert element, so a repeated notice replaces its alert
  let inerted = [];
  let opener = null;
  let serial = 0;
  let delay = FIRST_DELAY;
  let connectedBefore = false;

  const isCritical = (kind) => typeof kind === "string"
    && kinds.some((k) => kind === k || kind.startsWith(`${k}.`));
  // The server only stores paths within SmartCare; checked again, since the link becomes a button's target.
  const isOwnPath = (link) => typeof link === "string" && link.startsWith("/") && !link.startsWith("//")
    && !link.includes("\\");

  function formatTime(iso) {
    const moment = new Date(iso);
    if (Number.isNaN(moment.getTime())) { return ""; }
    const shown = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
    return moment.toLocaleString(lang, shown);
  }

  function setPageInert(on) {
    if (on && !inerted.length) {
      const quiet = ["SCRIPT", "TEMPLATE", "LINK"];
      inerted = [...document.body.children].filter((el) => el !== stack && !el.inert && !quiet.includes(el.tagName));
      inerted.forEach((el) => { el.inert = true; });
    } else if (!on) {
      inerted.forEach((el) => { el.inert = false; });
      inerted = [];
    }
  }

  function close(alert) {
    open.delete(alert.dataset.link);
    alert.remove();
    const next = stack.querySelector(".crit-alert__ack");
    if (next) { next.focus(); return; }
    stack.hidden = true;
    setPageInert(false);
    if (opener && opener.isConnected) { opener.focus(); }
    opener = null;
  }

  function build(notice) {
    const alert = template.content.firstElementChild.cloneNode(true);
    const id = `crit-alert-${++serial}`;
    const [facts, ...todo] = String(notice.body || "").split("\n");
    const title = alert.querySelector(".crit-alert__title");
    title.id = `${id}-title`;
    title.textContent = notice.title || "";
    alert.querySelector(".crit-alert__facts").textContent = facts;
    alert.querySelector(".crit-alert__todo").textContent = todo.join(" ");
    alert.querySelector(".crit-alert__text").id = `${id}-text`;
    alert.setAttribute("aria-labelledby", title.id);
    alert.setAttribute("aria-describedby", `${id}-text`);
    const time = alert.querySelector("time");
    time.dateTime = notice.created || "";
    time.textContent = formatTime(notice.created);
    alert.querySelector(".crit-alert__ack").href = notice.link;
    alert.querySelector(".crit-alert__later").addEventListener("click", () => close(alert));
    alert.dataset.link = notice.link;
    return alert;
  }

  function show(notice) {
    if (!isOwnPath(notice.link)) { return; }
    const earlier = open.get(notice.link);
    if (earlier) { earlier.remove(); }
    const alert = build(notice);
    if (stack.hidden) {
      opener = document.activeElement;
      stack.hidden = false;
      setPageInert(true);
    }
    stack.prepend(alert);
    stack.scrollTop = 0;
    open.set(notice.link, alert);
    alert.querySelector(".crit-alert__ack").focus();
    playTone();
  }

  async function refreshBanner() {
    try {
      const response = await fetch(banner.dataset.src, {
        credentials: "same-origin", redirect: "manual", cache: "no-store", headers: { Accept: "text/html" },
      });
      // Signed out (a redirect to the sign-in page) or refused: the banner keeps what it showed.
      if (response.status !== 200) { return; }
      banner.innerHTML = (await response.text()).trim();  // rendered and escaped by the server's template
      // On a value's own acknowledgement page the banner does not list it again.
      banner.querySelectorAll("li").forEach((item) => {
        const link = item.querySelector("a[href]");
        if (link && link.getAttribute("href") === location.pathname) { item.remove(); }
      });
      banner.hidden = !banner.querySelector("li");
    } catch (error) {
      banner.dataset.error = String(error).slice(0, 100);  // offline: tried again on reconnection
    }
  }

  // Sound: browsers allow audio only after the person has interacted with the page; until then alerts are silent.
  const AudioContextClass = window.AudioContext || window.webkitAudioContext;
  let audio = null;

  function unlockAudio() {
    if (!AudioContextClass) { return null; }
    try {
      audio = audio || new AudioContextClass();
    } catch (error) {
      return null;
    }
    return audio.resume().catch(() => null);
  }

  function beep(at) {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(at);
    oscillator.stop(at + 0.2);
  }

  function playTone() {
    if (!audio) { return; }  // no interaction yet: the browser would refuse to play
    const resumed = unlockAudio();
    if (!resumed) { return; }
    resumed.then(() => {
      if (audio.state !== "running") { return; }
      const now = audio.currentTime;
      [0, 0.25, 0.5].forEach((offset) => beep(now + offset));
    });
  }

  ["pointerdown", "keydown"].forEach((type) => {
    document.addEventListener(type, unlockAudio, { once: true, capture: true, passive: true });
  });

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws/notifications`);
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (message.type === "hello") {
        delay = FIRST_DELAY;
        stack.dataset.live = "true";
        if (connectedBefore) { refreshBanner(); }  // pushes sent while disconnected were missed
        connectedBefore = true;
      } else if (message.type === "notification" && isCritical((message.notification || {}).kind)) {
        show(message.notification);
        refreshBanner();
      }
    });
    socket.addEventListener("close", (event) => {
      stack.dataset.live = "false";
      if (event.code === SESSION_OVER) { return; }
      // Doubling waits with jitter, so a restarted server is not met by every open tab at the same moment.
      const wait = delay * (0.75 + Math.random() * 0.5);
      delay = Math.min(delay * 2, MAX_DELAY);
      window.setTimeout(connect, wait);
    });
  }

  window.addEventListener("pageshow", (event) => { if (event.persisted) { refreshBanner(); } });
  refreshBanner();
  connect();
})();
