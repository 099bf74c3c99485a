/* The room of a multi-disciplinary session: one RTCPeerConnection with each other participant (a mesh) over the
   room's signalling WebSocket (/api/v1/video/rooms/{id}/ws), mute, camera off, screen share, leaving and joining
   again, reconnecting, and shared viewing ("show to everyone" opens a record on every page). Plain JavaScript.

   Of two browsers, the one whose peer id sorts first makes the offers (and restarts ICE when the connection
   fails); the other answers, and asks for a restart with "renegotiate". A socket that comes back has a new peer
   id, so the others drop its old connections when it leaves and build new ones when it joins. */
(function () {
  "use strict";

  var root = document.getElementById("mdt-room");
  if (!root) return;
  var words = JSON.parse(root.dataset.words);
  var names = JSON.parse(root.dataset.names || "{}");
  var roomId = root.dataset.room;
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";
  var RESTART_AFTER_MS = 4000;

  var state = {
    me: "", peer: "", ws: null, joined: false, ended: false, retry: 0, iceServers: [], local: null,
    screen: null, muted: false, cameraOff: false, sharing: false, peers: {}, showing: ""
  };
  // The room's state for tests and for support staff in the browser console.
  window.smartcareRoom = state;

  function el(id) { return document.getElementById(id); }
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return String(values[key]); });
  }
  function say(text, kind) { el("mdt-status").textContent = text; root.dataset.state = kind; }
  function announce(text) { el("mdt-announce").textContent = text; }
  function showError(text) { el("mdt-error").textContent = text || ""; }
  function nameOf(participant) { return names[participant] || words.someone; }
  function randomId() {
    var bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  async function openDevices() {
    try {
      state.local = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: { ideal: 640 } } });
    } catch (cameraError) {
      try { state.local = await navigator.mediaDevices.getUserMedia({ audio: true }); }
      catch (micError) { state.local = new MediaStream(); }
    }
    el("mdt-local").srcObject = state.local;
  }

  // ---- the signalling socket ----

  function connect() {
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(scheme + "//" + location.host + "/api/v1/video/rooms/" + encodeURIComponent(roomId) + "/ws");
    state.ws = ws;
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      onFrame(frame);
    };
    ws.onclose = function (event) {
      if (state.ws !== ws) return;
      state.ws = null;
      closeAll();
      if (state.ended || !state.joined) return;
      if (event.code === 1008) {
        state.joined = false;
        showJoined(false);
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
        state.peer = frame.peer;
        state.me = frame.me;
        state.iceServers = frame.ice_servers || [];
        (frame.participants || []).forEach(function (p) { names[p.reference] = p.name; });
        showCount();
        sendMedia();
        break;
      case "join": onJoin(frame); break;
      case "leave": onLeave(frame); break;
      case "signal":
        var entry = peerFor(frame.from, null);
        entry.chain = entry.chain.then(function () { return onSignal(entry, frame); }).catch(function (error) {
          showError(String(error && error.message || error));
        });
        break;
      case "media": showMedia(frame.from, frame.state || {}); break;
      case "show":
        var from = state.peers[frame.from];
        openItem(frame.item, fill(words.showing, { name: nameOf(from && from.participant), item: labelOf(frame.item) }));
        break;
      case "ended": finish(); break;
      case "replaced":
        state.joined = false;
        closeAll();
        showJoined(false);
        say(words.replaced, "replaced");
        break;
      case "error": showError(frame.message); break;
    }
  }

  function onJoin(frame) {
    var entry = peerFor(frame.peer, frame.participant);
    if (!frame.reply) announce(fill(words.joined, { name: nameOf(frame.participant) }));
    if (entry.offerer && !entry.pc) startCall(entry, false);
    if (state.showing && !frame.reply) send({ type: "show", item: state.showing });
    showCount();
  }

  function onLeave(frame) {
    var entry = state.peers[frame.peer];
    if (!entry) return;
    closePeer(entry);
    delete state.peers[frame.peer];
    announce(fill(words.left, { name: nameOf(frame.participant) }));
    showCount();
  }

  // ---- one peer connection per other participant ----

  function peerFor(peerId, participant) {
    var entry = state.peers[peerId];
    if (!entry) {
      entry = {
        id: peerId, participant: participant, pc: null, call: "", queued: [], chain: Promise.resolve(),
        offerer: state.peer < peerId, tile: null, restartTimer: null
      };
      state.peers[peerId] = entry;
    } else if (participant && !entry.participant) {
      entry.participant = participant;
    }
    tileFor(entry);
    return entry;
  }

  function tileFor(entry) {
    if (!entry.tile) {
      var tile = document.createElement("li");
      tile.className = "mdt-tile";
      var video = document.createElement("video");
      video.autoplay = true;
      video.playsInline = true;
      var label = document.createElement("span");
      label.className = "mdt-name";
      var media = document.createElement("span");
      media.className = "mdt-media";
      tile.appendChild(video);
      tile.appendChild(label);
      tile.appendChild(media);
      el("mdt-grid").appendChild(tile);
      entry.tile = tile;
    }
    var name = nameOf(entry.participant);
    entry.tile.querySelector(".mdt-name").textContent = name;
    entry.tile.querySelector("video").setAttribute("aria-label", name);
  }

  function newPeer(entry, callId) {
    if (entry.pc) { entry.pc.onconnectionstatechange = null; entry.pc.close(); }
    var pc = new RTCPeerConnection({ iceServers: state.iceServers });
    entry.pc = pc;
    entry.call = callId;
    entry.queued = [];
    var stream = state.local || new MediaStream();
    stream.getTracks().forEach(function (track) { pc.addTrack(track, stream); });
    if (entry.offerer) {
      // Receive both kinds even without a device, and keep a video sender for screen sharing.
      ["audio", "video"].forEach(function (kind) {
        if (!stream.getTracks().some(function (t) { return t.kind === kind; })) {
          pc.addTransceiver(kind, { direction: kind === "video" ? "sendrecv" : "recvonly" });
        }
      });
    }
    if (state.sharing && state.screen) replaceVideo(pc, state.screen.getVideoTracks()[0]);
    pc.ontrack = function (event) {
      var video = entry.tile.querySelector("video");
      var remote = event.streams[0] || new MediaStream([event.track]);
      if (video.srcObject !== remote) video.srcObject = remote;
    };
    pc.onicecandidate = function (event) {
      if (event.candidate) send({ type: "signal", to: entry.id, call: callId, signal: { candidate: event.candidate.toJSON() } });
    };
    pc.onconnectionstatechange = function () { onPeerState(entry, pc); };
    return pc;
  }

  function closePeer(entry) {
    clearTimeout(entry.restartTimer);
    if (entry.pc) { entry.pc.onconnectionstatechange = null; entry.pc.close(); }
    entry.pc = null;
    if (entry.tile) entry.tile.remove();
    entry.tile = null;
  }

  function closeAll() {
    Object.keys(state.peers).forEach(function (id) { closePeer(state.peers[id]); });
    state.peers = {};
    showCount();
  }

  async function startCall(entry, iceRestart) {
    if (!state.joined) return;
    var pc = iceRestart && entry.pc ? entry.pc : newPeer(entry, randomId());
    var callId = entry.call;
    var offer = await pc.createOffer(iceRestart ? { iceRestart: true } : {});
    if (pc !== entry.pc) return;
    await pc.setLocalDescription(offer);
    send({ type: "signal", to: entry.id, call: callId, signal: { description: { type: "offer", sdp: pc.localDescription.sdp } } });
  }

  async function onSignal(entry, frame) {
    var signal = frame.signal || {};
    if (signal.description && signal.description.type === "offer") {
      if (frame.call !== entry.call || !entry.pc) newPeer(entry, frame.call);
      var pc = entry.pc;
      await pc.setRemoteDescription(signal.description);
      await flushCandidates(entry);
      await pc.setLocalDescription(await pc.createAnswer());
      send({ type: "signal", to: entry.id, call: frame.call, signal: { description: { type: "answer", sdp: pc.localDescription.sdp } } });
    } else if (frame.call !== entry.call || !entry.pc) {
      return;
    } else if (signal.description && signal.description.type === "answer") {
      await entry.pc.setRemoteDescription(signal.description);
      await flushCandidates(entry);
    } else if (signal.candidate) {
      if (!entry.pc.remoteDescription) entry.queued.push(signal.candidate);
      else await entry.pc.addIceCandidate(signal.candidate);
    } else if (signal.renegotiate && entry.offerer) {
      await startCall(entry, true);
    }
  }

  async function flushCandidates(entry) {
    var queued = entry.queued;
    entry.queued = [];
    for (var i = 0; i < queued.length; i++) await entry.pc.addIceCandidate(queued[i]);
  }

  function onPeerState(entry, pc) {
    if (pc !== entry.pc) return;
    var now = pc.connectionState;
    entry.tile.dataset.pc = now;
    clearTimeout(entry.restartTimer);
    if (now === "disconnected" || now === "failed") {
      // A brief "disconnected" often heals itself; one that lasts, or a failure, needs new ICE candidates.
      entry.restartTimer = setTimeout(function () {
        if (!entry.pc || entry.pc.connectionState === "connected") return;
        if (entry.offerer) startCall(entry, true);
        else send({ type: "signal", to: entry.id, call: entry.call, signal: { renegotiate: true } });
      }, now === "failed" ? 0 : RESTART_AFTER_MS);
    }
    showCount();
  }

  function showCount() {
    if (!state.joined) return;
    var ids = Object.keys(state.peers);
    var up = ids.filter(function (id) { var pc = state.peers[id].pc; return pc && pc.connectionState === "connected"; });
    if (!state.ws || !state.peer) say(words.reconnecting, "reconnecting");
    else if (!ids.length) say(words.alone, "waiting-other");
    else if (up.length === ids.length) say(fill(words.connected, { n: up.length, total: ids.length }), "connected");
    else say(fill(words.connected, { n: up.length, total: ids.length }), "connecting");
  }

  function showMedia(peerId, media) {
    var entry = state.peers[peerId];
    if (!entry || !entry.tile) return;
    var lines = [];
    if (media.audio === false) lines.push(words.muted);
    if (media.video === false && !media.screen) lines.push(words.cameraOff);
    if (media.screen) lines.push(words.sharing);
    entry.tile.querySelector(".mdt-media").textContent = lines.join(" · ");
  }

  // ---- shared viewing ----

  function itemNode(item) {
    var found = null;
    document.querySelectorAll(".mdt-item").forEach(function (node) { if (node.dataset.item === item) found = node; });
    return found;
  }

  function labelOf(item) {
    var node = itemNode(item);
    return node ? node.dataset.label : item;
  }

  function openItem(item, line) {
    var node = itemNode(item);
    if (!node) return;
    document.querySelectorAll(".mdt-item").forEach(function (other) { other.hidden = other !== node; });
    var frame = node.querySelector("iframe");
    if (frame && !frame.getAttribute("src")) frame.setAttribute("src", frame.dataset.src);
    var shown = el("mdt-viewing");
    shown.dataset.item = item;
    shown.textContent = line;
  }

  function showToEveryone(item) {
    state.showing = item;
    openItem(item, fill(words.youShow, { item: labelOf(item) }));
    send({ type: "show", item: item });
  }

  // ---- controls ----

  function press(button, on) { button.setAttribute("aria-pressed", on ? "true" : "false"); }

  function toggleMute() {
    state.muted = !state.muted;
    if (state.local) state.local.getAudioTracks().forEach(function (t) { t.enabled = !state.muted; });
    press(el("mdt-mute"), state.muted);
    sendMedia();
  }

  function toggleCamera() {
    state.cameraOff = !state.cameraOff;
    if (state.local) state.local.getVideoTracks().forEach(function (t) { t.enabled = !state.cameraOff; });
    press(el("mdt-camera"), state.cameraOff);
    sendMedia();
  }

  function replaceVideo(pc, track) {
    var found = pc.getTransceivers().filter(function (t) {
      return t.receiver.track && t.receiver.track.kind === "video" && !t.stopped;
    });
    return found.length ? found[0].sender.replaceTrack(track) : Promise.resolve();
  }

  function replaceEverywhere(track) {
    return Promise.all(Object.keys(state.peers).map(function (id) {
      var pc = state.peers[id].pc;
      return pc ? replaceVideo(pc, track) : Promise.resolve();
    }));
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
    await replaceEverywhere(track);
    el("mdt-local").srcObject = state.screen;
    press(el("mdt-share"), true);
    sendMedia();
  }

  async function stopShare() {
    if (!state.sharing) return;
    state.sharing = false;
    if (state.screen) state.screen.getTracks().forEach(function (t) { t.stop(); });
    state.screen = null;
    await replaceEverywhere(state.local ? state.local.getVideoTracks()[0] || null : null);
    el("mdt-local").srcObject = state.local;
    press(el("mdt-share"), false);
    sendMedia();
  }

  function showJoined(joined) {
    el("mdt-controls").hidden = !joined;
    el("mdt-join").disabled = joined || state.ended;
    var local = el("mdt-local");
    if (local.srcObject) local.play().catch(function () {});
  }

  async function join() {
    if (state.ended) return;
    el("mdt-join").disabled = true;
    if (!state.local) await openDevices();
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
    closeAll();
    showJoined(false);
    say(words.youLeft, "left");
  }

  function finish() {
    state.ended = true;
    state.joined = false;
    if (state.ws) state.ws.close();
    state.ws = null;
    closeAll();
    showJoined(false);
    el("mdt-join").disabled = true;
    say(words.ended, "ended");
  }

  async function endSession() {
    if (!window.confirm(words.confirmEnd)) return;
    var answer = await fetch("/api/v1/teleconsults/" + encodeURIComponent(roomId) + "/room/end", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: "{}"
    });
    if (!answer.ok) {
      showError(words.endFailed);
      return;
    }
    finish();
  }

  el("mdt-join").addEventListener("click", join);
  el("mdt-leave").addEventListener("click", leave);
  el("mdt-mute").addEventListener("click", toggleMute);
  el("mdt-camera").addEventListener("click", toggleCamera);
  el("mdt-share").addEventListener("click", toggleShare);
  el("mdt-end").addEventListener("click", endSession);
  document.querySelectorAll(".mdt-open").forEach(function (button) {
    button.addEventListener("click", function () { openItem(button.dataset.item, labelOf(button.dataset.item)); });
  });
  document.querySelectorAll(".mdt-show").forEach(function (button) {
    button.addEventListener("click", function () { showToEveryone(button.dataset.item); });
  });
  window.addEventListener("pagehide", function () { if (state.joined) send({ type: "leave" }); });
})();
