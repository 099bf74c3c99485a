/* Video visits in the browser: camera and microphone check, the waiting room, WebRTC signalling over
   SmartCare's WebSocket (/api/v1/video/{id}/ws), mute, camera off, screen share, call quality from
   getStats(), reconnecting, and the doctor's notes. Plain JavaScript, no third-party code.

   Negotiation: only the doctor makes offers, so the two sides never offer at once. Each peer connection
   the doctor builds has a call id carried by every signal; the patient builds a new connection when a new
   call id arrives and ignores signals of an old one. When the patient (re)joins, the doctor offers anew;
   when a connection fails, the doctor restarts ICE (the patient asks for it with "renegotiate"). */
(function () {
  "use strict";

  var root = document.getElementById("video-visit");
  if (!root) return;
  var words = JSON.parse(root.dataset.words);
  var side = root.dataset.side;
  var visitId = root.dataset.visit;
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";
  var STATS_EVERY_MS = 2000;
  var RESTART_AFTER_MS = 4000;

  var state = {
    local: null, screen: null, pc: null, call: "", ws: null, joined: false, ended: false, retry: 0,
    admitted: side === "doctor", otherPresent: false, otherAdmitted: false, iceServers: [],
    queued: [], chain: Promise.resolve(), muted: false, cameraOff: false, sharing: false,
    stats: null, statsPrev: null, statsTimer: null, restartTimer: null, meterTimer: null
  };
  // The call's state for tests and for support staff in the browser console.
  window.smartcareVideo = state;

  function el(id) { return document.getElementById(id); }
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return String(values[key]); });
  }
  function say(text, kind) {
    el("vv-status").textContent = text;
    root.dataset.state = kind;
  }
  function showError(text) { el("vv-error").textContent = text || ""; }
  function randomId() {
    var bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  // ---- camera and microphone check ----

  async function checkDevices() {
    say(words.checking, "checking");
    var result = el("vv-check-result");
    result.textContent = "";
    try {
      state.local = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true },
        video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" }
      });
      result.textContent = words.checked;
    } catch (cameraError) {
      try {
        state.local = await navigator.mediaDevices.getUserMedia({ audio: true });
        result.textContent = words.noCamera;
      } catch (micError) {
        state.local = new MediaStream();
        result.textContent = words.noDevices;
      }
    }
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
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(scheme + "//" + location.host + "/api/v1/video/" + encodeURIComponent(visitId) + "/ws");
    state.ws = ws;
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      onFrame(frame);
    };
    ws.onclose = function (event) {
      if (state.ws !== ws) return;
      state.ws = null;
      if (state.ended || !state.joined) return;
      if (event.code === 1008) {
        state.joined = false;
        say(words.refused, "refused");
        return;
      }
      say(words.reconnecting, "reconnecting");
      var delay = Math.min(8000, 500 * Math.pow(2, state.retry++));
      setTimeout(function () { if (state.joined && !state.ws) connect(); }, delay);
    };
  }

  function send(frame) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(frame));
  }

  function sendMedia() {
    send({ type: "media", state: { audio: !state.muted, video: !state.cameraOff, screen: state.sharing } });
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
        state.chain = state.chain.then(function () { return onSignal(frame); }).catch(function (error) {
          showError(String(error && error.message || error));
        });
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
    var pc = new RTCPeerConnection({ iceServers: state.iceServers });
    state.pc = pc;
    state.call = callId;
    state.queued = [];
    state.statsPrev = null;
    var stream = state.local || new MediaStream();
    stream.getTracks().forEach(function (track) { pc.addTrack(track, stream); });
    if (side === "doctor") {
      // Receive both kinds even without a device, and keep a video sender for screen sharing.
      ["audio", "video"].forEach(function (kind) {
        if (!stream.getTracks().some(function (t) { return t.kind === kind; })) {
          pc.addTransceiver(kind, { direction: kind === "video" ? "sendrecv" : "recvonly" });
        }
      });
    }
    if (state.sharing && state.screen) replaceVideo(state.screen.getVideoTracks()[0]);
    pc.ontrack = function (event) {
      var remote = el("vv-remote");
      var stream = event.streams[0] || new MediaStream([event.track]);
      if (remote.srcObject !== stream) remote.srcObject = stream;
    };
    pc.onicecandidate = function (event) {
      if (event.candidate) send({ type: "signal", call: callId, signal: { candidate: event.candidate.toJSON() } });
    };
    pc.onconnectionstatechange = function () { onPeerState(pc); };
    return pc;
  }

  function closePeer() {
    clearTimeout(state.restartTimer);
    clearInterval(state.statsTimer);
    state.statsTimer = null;
    if (state.pc) {
      state.pc.onconnectionstatechange = null;
      state.pc.close();
    }
    state.pc = null;
    root.dataset.pc = "closed";
  }

  async function startCall(iceRestart) {
    if (!state.joined) return;
    var pc = iceRestart && state.pc ? state.pc : newPeer(randomId());
    var callId = state.call;
    say(words.connecting, "connecting");
    var offer = await pc.createOffer(iceRestart ? { iceRestart: true } : {});
    if (pc !== state.pc) return;
    await pc.setLocalDescription(offer);
    send({ type: "signal", call: callId, signal: { description: { type: "offer", sdp: pc.localDescription.sdp } } });
  }

  async function onSignal(frame) {
    var signal = frame.signal || {};
    if (side === "patient") {
      if (signal.description && signal.description.type === "offer") {
        if (frame.call !== state.call || !state.pc) newPeer(frame.call);
        var pc = state.pc;
        await pc.setRemoteDescription(signal.description);
        await flushCandidates(pc);
        var answer = await pc.createAnswer();
        await pc.setLocalDescription(answer);
        send({ type: "signal", call: frame.call, signal: { description: { type: "answer", sdp: pc.localDescription.sdp } } });
      } else if (signal.candidate && frame.call === state.call) {
        await addCandidate(signal.candidate);
      }
      return;
    }
    if (frame.call !== state.call || !state.pc) return;
    if (signal.description && signal.description.type === "answer") {
      await state.pc.setRemoteDescription(signal.description);
      await flushCandidates(state.pc);
    } else if (signal.candidate) {
      await addCandidate(signal.candidate);
    } else if (signal.renegotiate) {
      await startCall(true);
    }
  }

  async function addCandidate(candidate) {
    var pc = state.pc;
    if (!pc) return;
    if (!pc.remoteDescription) {
      state.queued.push(candidate);
      return;
    }
    await pc.addIceCandidate(candidate);
  }

  async function flushCandidates(pc) {
    var queued = state.queued;
    state.queued = [];
    for (var i = 0; i < queued.length; i++) await pc.addIceCandidate(queued[i]);
  }

  function onPeerState(pc) {
    if (pc !== state.pc) return;
    var now = pc.connectionState;
    root.dataset.pc = now;
    clearTimeout(state.restartTimer);
    if (now === "connected") {
      say(words.connected, "connected");
      showError("");
      startStats();
    } else if (now === "disconnected" || now === "failed") {
      say(words.reconnecting, "reconnecting");
      // A brief "disconnected" often heals itself; one that lasts, or a failure, needs new ICE candidates.
      state.restartTimer = setTimeout(askForRestart, now === "failed" ? 0 : RESTART_AFTER_MS);
    }
  }

  function askForRestart() {
    if (!state.pc || state.pc.connectionState === "connected") return;
    if (side === "doctor") startCall(true);
    else send({ type: "signal", call: state.call, signal: { renegotiate: true } });
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

  function press(button, on) { button.setAttribute("aria-pressed", on ? "true" : "false"); }

  function toggleMute() {
    state.muted = !state.muted;
    if (state.local) state.local.getAudioTracks().forEach(function (t) { t.enabled = !state.muted; });
    press(el("vv-mute"), state.muted);
    sendMedia();
  }

  function toggleCamera() {
    state.cameraOff = !state.cameraOff;
    if (state.local) state.local.getVideoTracks().forEach(function (t) { t.enabled = !state.cameraOff; });
    press(el("vv-camera"), state.cameraOff);
    sendMedia();
  }

  function videoSender() {
    if (!state.pc) return null;
    var found = state.pc.getTransceivers().filter(function (t) {
      return t.receiver.track && t.receiver.track.kind === "video" && !t.stopped;
    });
    return found.length ? found[0].sender : null;
  }

  function replaceVideo(track) {
    var sender = videoSender();
    if (sender) return sender.replaceTrack(track);
    return Promise.resolve();
  }

  async function toggleShare() {
    if (state.sharing) return stopShare();
    try {
      state.screen = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch (error) {
      showError(words.shareFailed);
      return;
    }
    var track = state.screen.getVideoTracks()[0];
    track.onended = stopShare;
    state.sharing = true;
    await replaceVideo(track);
    el("vv-local").srcObject = state.screen;
    press(el("vv-share"), true);
    sendMedia();
  }

  async function stopShare() {
    if (!state.sharing) return;
    state.sharing = false;
    if (state.screen) state.screen.getTracks().forEach(function (t) { t.stop(); });
    state.screen = null;
    var camera = state.local ? state.local.getVideoTracks()[0] || null : null;
    await replaceVideo(camera);
    el("vv-local").srcObject = state.local;
    press(el("vv-share"), false);
    sendMedia();
  }

  function showRemoteMedia(media) {
    var lines = [];
    if (media.audio === false) lines.push(words.remoteMuted);
    if (media.video === false && !media.screen) lines.push(words.remoteCameraOff);
    if (media.screen) lines.push(words.remoteSharing);
    el("vv-remote-state").textContent = lines.join(" ");
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
    send({ type: "leave" });
    state.joined = false;
    var ws = state.ws;
    state.ws = null;
    if (ws) ws.close();
    closePeer();
    el("vv-remote").srcObject = null;
    state.otherPresent = false;
    showJoined(false);
    say(words.left, "left");
  }

  function finish(text) {
    state.ended = true;
    state.joined = false;
    if (state.ws) state.ws.close();
    state.ws = null;
    closePeer();
    el("vv-remote").srcObject = null;
    showJoined(false);
    var endButton = el("vv-end");
    if (endButton) endButton.disabled = true;
    say(text, "ended");
  }

  // ---- the doctor's notes and ending ----

  function post(path, body) {
    return fetch("/api/v1/video/" + encodeURIComponent(visitId) + path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {})
    });
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
  el("vv-mute").addEventListener("click", toggleMute);
  el("vv-camera").addEventListener("click", toggleCamera);
  if (el("vv-share")) el("vv-share").addEventListener("click", toggleShare);
  if (el("vv-admit")) el("vv-admit").addEventListener("click", function () { send({ type: "admit" }); });
  if (el("vv-notes-form")) el("vv-notes-form").addEventListener("submit", saveNotes);
  if (el("vv-end")) el("vv-end").addEventListener("click", endVisit);
  window.addEventListener("pagehide", function () { if (state.joined) send({ type: "leave" }); });

  if (root.dataset.status === "finished" || root.dataset.status === "cancelled") finish(words.ended);
})();
