/* SmartCare first aid: one step per screen, the CPR metronome, and the offline service worker. */
"use strict";

(function () {
  function registerOffline() {
    if (!("serviceWorker" in navigator)) return;
    const status = document.querySelector("[data-offline-status]");
    navigator.serviceWorker.register("/app/first-aid/sw.js", { scope: "/app/first-aid" })
      .then(() => navigator.serviceWorker.ready)
      .then(() => { if (status) status.textContent = status.dataset.ready; })
      .catch(() => { /* the pages still work online */ });
  }

  function stepper(article) {
    const steps = Array.from(article.querySelectorAll(".fa-step"));
    const nav = article.querySelector(".fa-stepper");
    const allToggle = article.querySelector(".fa-stepper-all");
    if (!steps.length || !nav || !allToggle) return;
    const back = nav.querySelector("[data-back]");
    const next = nav.querySelector("[data-next]");
    const allButton = allToggle.querySelector("[data-all]");
    let current = 0;
    let showingAll = false;
    const fromHash = /^#step-(\d+)$/.exec(window.location.hash);
    if (fromHash) current = Math.min(Math.max(Number(fromHash[1]) - 1, 0), steps.length - 1);

    function show(index, moveFocus) {
      current = index;
      steps.forEach((step, i) => { step.hidden = !showingAll && i !== current; });
      back.disabled = current === 0;
      next.disabled = current === steps.length - 1;
      nav.hidden = showingAll;
      if (moveFocus) {
        const text = steps[current].querySelector(".fa-step__text");
        text.setAttribute("tabindex", "-1");
        text.focus();
        history.replaceState(null, "", "#step-" + (current + 1));
      }
    }
    back.addEventListener("click", () => { if (current > 0) show(current - 1, true); });
    next.addEventListener("click", () => { if (current < steps.length - 1) show(current + 1, true); });
    allButton.addEventListener("click", () => {
      showingAll = !showingAll;
      allButton.textContent = showingAll ? allButton.dataset.oneText : allButton.dataset.allText;
      show(current, false);
    });
    article.classList.add("fa-protocol--stepped");
    allToggle.hidden = false;
    show(current, false);
  }

  function metronome(section) {
    const toggle = section.querySelector("[data-toggle]");
    const rate = section.querySelector("[data-rate]");
    const rateShown = section.querySelector("[data-rate-shown]");
    const count = section.querySelector("[data-count]");
    const status = section.querySelector("[data-status]");
    const beat = section.querySelector(".fa-metronome__beat");
    let timer = null;
    let audio = null;
    let compressions = 0;
    let nextAt = 0;

    function click() {
      if (!audio) return;
      const now = audio.currentTime;
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = 1000;
      gain.gain.setValueAtTime(0.6, now);
      gain.gain.exponentialRampToValueAtTime(0.001, now + 0.05);
      tone.connect(gain).connect(audio.destination);
      tone.start(now);
      tone.stop(now + 0.06);
    }

    function tick() {
      compressions = compressions >= 30 ? 1 : compressions + 1;
      count.value = String(compressions);
      count.textContent = String(compressions);
      status.textContent = compressions === 30 ? section.dataset.breaths : "";
      beat.classList.remove("fa-metronome__beat--on");
      void beat.offsetWidth; // restart the pulse animation
      beat.classList.add("fa-metronome__beat--on");
      click();
      const interval = 60000 / Number(rate.value);
      nextAt += interval;
      timer = window.setTimeout(tick, Math.max(0, nextAt - performance.now()));
    }

    function start() {
      const AudioContext = window.AudioContext || window.webkitAudioContext;
      if (AudioContext && !audio) {
        try { audio = new AudioContext(); } catch (error) { audio = null; }
      }
      if (audio && audio.state === "suspended") audio.resume();
      compressions = 0;
      nextAt = performance.now();
      toggle.setAttribute("aria-pressed", "true");
      toggle.textContent = toggle.dataset.stop;
      tick();
    }

    function stop() {
      window.clearTimeout(timer);
      timer = null;
      toggle.setAttribute("aria-pressed", "false");
      toggle.textContent = toggle.dataset.start;
      beat.classList.remove("fa-metronome__beat--on");
    }

    toggle.addEventListener("click", () => { if (timer === null) start(); else stop(); });
    rate.addEventListener("input", () => {
      rateShown.value = rate.value;
      rateShown.textContent = rate.value;
      beat.style.setProperty("--fa-beat", (60 / Number(rate.value)).toFixed(3) + "s");
    });
    section.hidden = false;
  }

  document.querySelectorAll(".fa-protocol").forEach(stepper);
  document.querySelectorAll(".fa-metronome").forEach(metronome);
  registerOffline();
})();
