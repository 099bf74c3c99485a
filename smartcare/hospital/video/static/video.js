/* Video visits in the browser: camera and microphone check, the waiting room, WebRTC signalling over
   SmartCare's WebSocket (/api/v1/video/{id}/ws), mute, camera off, screen share, call quality from
   getStats(), reconnecting, and the doctor's notes. Plain JavaScript, no third-party code.

   Negotiation: only the doctor makes offers, so the two sides never offer at once. Each peer connection
   the doctor builds has a call id carried by every signal; the patient builds a new connection when a new
   call id arrives and ignores signals of an old one. When the patient (re)joins, the doctor offers anew;
   when a connection fails, the doctor restarts ICE (the patient asks for it with "renegotiate").
   What it does alike with the MDT room (room.js) is in media.js, loaded first. */
(function () {
  "use strict";

  var root = document.getElementById("video-visit");
  if (!root) return;
  var media = window.smartcareMedia;
  var el = media.el, fill = media.fill;
  var words = JSON.parse(root.dataset.words);
  var side = root.dataset.side;
  var visitId = root.dataset.visit;
  var STATS_EVERY_MS = 2000;

  var state = {
    local: null, screen: null, pc: null, call: "", ws: null, joined: false, ended: false, retry: 0,
    admitted: side === "doctor", otherPresent: false, otherAdmitted: false, iceServers: [],
    queued: [], chain: Promise.resolve(), muted: false, cameraOff: false, sharing: false,
    stats: null, statsPrev: null, statsTimer: null, restartTimer: null, meterTimer: null
  };
  // The call's state for tests and for support staff in the browser console.
  window.smartcareVideo = state;

  function say(text, kind) {
    el("vv-status").textContent = text;
    root.dataset.state = kind;
  }
  function showError(text) { el("vv-error").textContent = text || ""; }

  // ---- camera and microphone check ----

  async function checkDevices() {
    say(words.checking, "checking");
    var result = el("vv-check-result");
    result.textContent = "";
    var opened = await media.openDevices({
      audio: { echoCancellation: true, noiseSuppression: true },
      video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" }
    });
    state.local = opened.stream;
    result.textContent = { both: words.checked, microphone: words.noCamera, none: words.noDevices }[opened.found];
    el("vv-preview").srcObject = state.local;
    el("vv-local").srcObject = state.local;
    watchMicrophone(state.local);
    if (!state.joined) say(words.notJoined, "idle");
  }

  function watchMicrophone(stream) {
    if (!stream.getAudioTracks().length || !window.AudioContext) return;
    var context = new AudioContext();
    var analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(stream).connect(analyser);
    var samples = new Uint8Array(analyser.fftSize);
    clearInterval(state.meterTimer);
    state.meterTimer = setInterval(function () {
      analyser.getByteTimeDomainData(samples);
      var sum = 0;
      for (var i = 0; i < samples.length; i++) {
        var v = (samples[i] - 128) / 128;
        sum += v * v;
      }
      var level = Math.min(1, Math.sqrt(sum / samples.length) * 4);
      el("vv-mic-level").value = level;
      el("vv-mic-level").textContent = level.toFixed(2);
    }, 100);
  }

  // ---- the signalling socket ----

  function connect() {
    media.connect(state, "/api/v1/video/" + encodeURIComponent(visitId) + "/ws", {
      frame: onFrame,
      refused: function () { say(words.refused, "refused"); },
      reconnecting: function () { say(words.reconnecting, "reconnecting"); }
    });
  }

  function send(frame) { media.send(state, frame); }
  function sendMedia() { media.sendMedia(state); }
  function signal(callId) {
    return function (sent) { send({ type: "signal", call: callId, signal: sent }); };
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "hello":
        state.retry = 0;
        state.iceServers = frame.ice_servers || [];
        state.admitted = side === "doctor" || frame.visit.admitted;
        if (side === "patient") {
          say(state.admitted ? words.doctorAway : words.waiting, state.admitted ? "connecting" : "waiting");
        } else {
          say(words.patientAway, "waiting-other");
        }
        sendMedia();
        break;
      case "presence": onPresence(frame); break;
      case "admitted": onAdmitted(); break;
      case "signal":
        media.inTurn(state, function () { return onSignal(frame); }, showError);
        break;
      case "media": showRemoteMedia(frame.state || {}); break;
      case "ended": finish(words.ended); break;
      case "replaced":
        state.joined = false;
        closePeer();
        say(words.replaced, "replaced");
        showJoined(false);
        break;
      case "error": showError(frame.message); break;
    }
  }

  function onPresence(frame) {
    state.otherPresent = !!frame.present;
    if (side === "doctor") state.otherAdmitted = !!frame.admitted;
    if (!frame.present) {
      closePeer();
      el("vv-remote").srcObject = null;
      el("vv-remote-state").textContent = "";
      say(words.otherLeft, "waiting-other");
      showWaitingRoom();
      return;
    }
    showWaitingRoom();
    if (side === "doctor") {
      if (frame.admitted && (!frame.reply || !state.pc)) startCall(false);
      else if (!frame.admitted) say(words.patientWaiting, "waiting-other");
    } else if (state.admitted) {
      say(words.connecting, "connecting");
      sendMedia();
    }
  }

  function onAdmitted() {
    if (side === "patient") {
      state.admitted = true;
      say(state.otherPresent ? words.connecting : words.doctorAway, "connecting");
      sendMedia();
    } else {
      state.otherAdmitted = true;
      showWaitingRoom();
      if (state.otherPresent) startCall(false);
    }
  }

  function showWaitingRoom() {
    var line = el("vv-waiting");
    if (!line) return;
    var admit = el("vv-admit");
    if (!state.otherPresent) line.textContent = words.patientAway;
    else line.textContent = state.otherAdmitted ? words.patientAdmitted : words.patientWaiting;
    admit.disabled = !(state.joined && state.otherPresent && !state.otherAdmitted);
    admit.hidden = state.otherPresent && state.otherAdmitted;
  }

  // ---- the peer connection ----

  function newPeer(callId) {
    closePeer();
    state.statsPrev = null;
    return media.newPeer(state, state, callId, {
      offerer: side === "doctor",
      video: function () { return el("vv-remote"); },
      signal: signal(callId),
      changed: onPeerState
    });
  }

  function closePeer() {
    clearInterval(state.statsTimer);
    state.statsTimer = null;
    media.closePeer(state);
    root.dataset.pc = "closed";
  }

  async function startCall(iceRestart) {
    if (!state.joined) return;
    var pc = iceRestart && state.pc ? state.pc : newPeer(media.randomId());
    var callId = state.call;
    say(words.connecting, "connecting");
    await media.offer(state, pc, iceRestart, signal(callId));
  }

  async function onSignal(frame) {
    var sent = frame.signal || {};
    if (side === "patient") {
      if (sent.description && sent.description.type === "offer") {
        if (frame.call !== state.call || !state.pc) newPeer(frame.call);
        await media.answer(state, sent.description, signal(frame.call));
      } else if (sent.candidate && frame.call === state.call) {
        await media.addCandidate(state, sent.candidate);
      }
      return;
    }
    if (frame.call !== state.call || !state.pc) return;
    if (sent.description && sent.description.type === "answer") {
      await media.answered(state, sent.description);
    } else if (sent.candidate) {
      await media.addCandidate(state, sent.candidate);
    } else if (sent.renegotiate) {
      await startCall(true);
    }
  }

  function onPeerState(pc) {
    if (pc !== state.pc) return;
    var now = pc.connectionState;
    root.dataset.pc = now;
    media.restartIfStuck(state, now, function () {
      if (side === "doctor") startCall(true);
      else send({ type: "signal", call: state.call, signal: { renegotiate: true } });
    });
    if (now === "connected") {
      say(words.connected, "connected");
      showError("");
      startStats();
    } else if (now === "disconnected" || now === "failed") {
      say(words.reconnecting, "reconnecting");
    }
  }

  // ---- call quality ----

  function startStats() {
    if (state.statsTimer) return;
    state.statsTimer = setInterval(readStats, STATS_EVERY_MS);
    readStats();
  }

  async function readStats() {
    var pc = state.pc;
    if (!pc) return;
    var report = await pc.getStats();
    var rtt = null, bytes = 0, lost = 0, received = 0, frames = 0, pairId = null;
    report.forEach(function (r) {
      if (r.type === "transport" && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
    });
    report.forEach(function (r) {
      if (r.type === "candidate-pair" && (pairId ? r.id === pairId : r.nominated && r.state === "succeeded")) {
        if (typeof r.currentRoundTripTime === "number") rtt = r.currentRoundTripTime;
      }
      if (r.type === "inbound-rtp") {
        bytes += r.bytesReceived || 0;
        lost += Math.max(0, r.packetsLost || 0);
        received += r.packetsReceived || 0;
        if (r.kind === "video") frames += r.framesDecoded || 0;
      }
    });
    var at = performance.now();
    var prev = state.statsPrev;
    var kbps = null, loss = null;
    if (prev) {
      kbps = Math.max(0, (bytes - prev.bytes) * 8 / Math.max(1, at - prev.at));
      var newLost = lost - prev.lost, newReceived = received - prev.received;
      loss = newLost + newReceived > 0 ? 100 * newLost / (newLost + newReceived) : 0;
    }
    state.statsPrev = { at: at, bytes: bytes, lost: lost, received: received };
    state.stats = { rtt: rtt, bytesReceived: bytes, framesDecoded: frames, kbps: kbps, loss: loss };
    showQuality(state.stats);
  }

  function showQuality(s) {
    el("vv-rtt").textContent = s.rtt === null ? "–" : fill(words.ms, { n: Math.round(s.rtt * 1000) });
    el("vv-loss").textContent = s.loss === null ? "–" : s.loss.toFixed(1) + "%";
    el("vv-bitrate").textContent = s.kbps === null ? "–" : fill(words.kbps, { n: Math.round(s.kbps) });
    var level = "good";
    if ((s.rtt !== null && s.rtt > 0.6) || (s.loss !== null && s.loss > 8)) level = "poor";
    else if ((s.rtt !== null && s.rtt > 0.3) || (s.loss !== null && s.loss > 2)) level = "fair";
    var shown = el("vv-quality-level");
    shown.textContent = words[level];
    shown.dataset.level = level;
  }

  // ---- controls ----

  var share = media.screenShare(state, {
    replace: function (track) { return media.replaceVideo(state.pc, track); },
    local: function () { return el("vv-local"); },
    button: function () { return el("vv-share"); },
    failed: function () { showError(words.shareFailed); }
  });

  function showRemoteMedia(other) {
    el("vv-remote-state").textContent = media.describeMedia(other, {
      muted: words.remoteMuted, cameraOff: words.remoteCameraOff, sharing: words.remoteSharing
    }).join(" ");
  }

  function showJoined(joined) {
    el("vv-check-panel").hidden = joined;
    el("vv-stage").hidden = !joined;
    el("vv-controls").hidden = !joined;
    el("vv-quality").hidden = !joined;
    el("vv-join").disabled = joined || state.ended;
    showWaitingRoom();
    // A video that was hidden when its stream arrived does not always start by itself once shown.
    ["vv-local", "vv-remote", "vv-preview"].forEach(function (id) {
      var video = el(id);
      if (video.srcObject && !video.hidden) video.play().catch(function () {});
    });
  }

  async function join() {
    if (state.ended) return;
    if (!state.local) await checkDevices();
    state.joined = true;
    showJoined(true);
    say(words.connecting, "connecting");
    connect();
  }

  function leave() {
    media.leave(state);
    closePeer();
    el("vv-remote").srcObject = null;
    state.otherPresent = false;
    showJoined(false);
    say(words.left, "left");
  }

  function finish(text) {
    media.end(state);
    closePeer();
    el("vv-remote").srcObject = null;
    showJoined(false);
    var endButton = el("vv-end");
    if (endButton) endButton.disabled = true;
    say(text, "ended");
  }

  // ---- the doctor's notes and ending ----

  function post(path, body) {
    return media.postJson("/api/v1/video/" + encodeURIComponent(visitId) + path, body);
  }

  async function saveNotes(event) {
    if (event) event.preventDefault();
    var shown = el("vv-notes-saved");
    var answer = await post("/notes", { text: el("vv-notes").value });
    if (!answer.ok) {
      shown.textContent = words.notSaved;
      return false;
    }
    var saved = new Date();
    shown.textContent = fill(words.saved, { t: saved.toLocaleTimeString(document.documentElement.lang) });
    return true;
  }

  async function endVisit() {
    if (!window.confirm(words.confirmEnd)) return;
    if (el("vv-notes").value.trim()) await saveNotes();
    var answer = await post("/end");
    if (!answer.ok) {
      showError(words.endFailed);
      return;
    }
    finish(words.ended);
  }

  el("vv-check").addEventListener("click", checkDevices);
  el("vv-join").addEventListener("click", join);
  el("vv-leave").addEventListener("click", leave);
  el("vv-mute").addEventListener("click", function () { media.toggleMute(state, el("vv-mute")); });
  el("vv-camera").addEventListener("click", function () { media.toggleCamera(state, el("vv-camera")); });
  if (el("vv-share")) el("vv-share").addEventListener("click", share.toggle);
  if (el("vv-admit")) el("vv-admit").addEventListener("click", function () { send({ type: "admit" }); });
  if (el("vv-notes-form")) el("vv-notes-form").addEventListener("submit", saveNotes);
  if (el("vv-end")) el("vv-end").addEventListener("click", endVisit);
  media.leaveOnHide(state);

  if (root.dataset.status === "finished" || root.dataset.status === "cancelled") finish(words.ended);
})();
