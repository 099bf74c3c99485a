/* The room of a multi-disciplinary session: one RTCPeerConnection with each other participant (a mesh) over the
   room's signalling WebSocket (/api/v1/video/rooms/{id}/ws), mute, camera off, screen share, leaving and joining
   again, reconnecting, and shared viewing ("show to everyone" opens a record on every page). Plain JavaScript.

   Of two browsers, the one whose peer id sorts first makes the offers (and restarts ICE when the connection
   fails); the other answers, and asks for a restart with "renegotiate". A socket that comes back has a new peer
   id, so the others drop its old connections when it leaves and build new ones when it joins. What it does alike
   with the 1:1 visit (video.js) is in media.js, loaded first. */
(function () {
  "use strict";

  var root = document.getElementById("mdt-room");
  if (!root) return;
  var media = window.smartcareMedia;
  var el = media.el, fill = media.fill;
  var words = JSON.parse(root.dataset.words);
  var names = JSON.parse(root.dataset.names || "{}");
  var roomId = root.dataset.room;

  var state = {
    me: "", peer: "", ws: null, joined: false, ended: false, retry: 0, iceServers: [], local: null,
    screen: null, muted: false, cameraOff: false, sharing: false, peers: {}, showing: ""
  };
  // The room's state for tests and for support staff in the browser console.
  window.smartcareRoom = state;

  function say(text, kind) { el("mdt-status").textContent = text; root.dataset.state = kind; }
  function announce(text) { el("mdt-announce").textContent = text; }
  function showError(text) { el("mdt-error").textContent = text || ""; }
  function nameOf(participant) { return names[participant] || words.someone; }

  async function openDevices() {
    state.local = (await media.openDevices({ audio: true, video: { width: { ideal: 640 } } })).stream;
    el("mdt-local").srcObject = state.local;
  }

  // ---- the signalling socket ----

  function connect() {
    media.connect(state, "/api/v1/video/rooms/" + encodeURIComponent(roomId) + "/ws", {
      frame: onFrame,
      lost: closeAll,
      refused: function () {
        showJoined(false);
        say(words.refused, "refused");
      },
      reconnecting: function () { say(words.reconnecting, "reconnecting"); }
    });
  }

  function send(frame) { media.send(state, frame); }
  function sendMedia() { media.sendMedia(state); }
  function signal(entry, callId) {
    return function (sent) { send({ type: "signal", to: entry.id, call: callId, signal: sent }); };
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
        media.inTurn(entry, function () { return onSignal(entry, frame); }, showError);
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
      var mediaLine = document.createElement("span");
      mediaLine.className = "mdt-media";
      tile.appendChild(video);
      tile.appendChild(label);
      tile.appendChild(mediaLine);
      el("mdt-grid").appendChild(tile);
      entry.tile = tile;
    }
    var name = nameOf(entry.participant);
    entry.tile.querySelector(".mdt-name").textContent = name;
    entry.tile.querySelector("video").setAttribute("aria-label", name);
  }

  function newPeer(entry, callId) {
    if (entry.pc) { entry.pc.onconnectionstatechange = null; entry.pc.close(); }
    return media.newPeer(state, entry, callId, {
      offerer: entry.offerer,
      video: function () { return entry.tile.querySelector("video"); },
      signal: signal(entry, callId),
      changed: function (pc) { onPeerState(entry, pc); }
    });
  }

  function closePeer(entry) {
    media.closePeer(entry);
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
    var pc = iceRestart && entry.pc ? entry.pc : newPeer(entry, media.randomId());
    await media.offer(entry, pc, iceRestart, signal(entry, entry.call));
  }

  async function onSignal(entry, frame) {
    var sent = frame.signal || {};
    if (sent.description && sent.description.type === "offer") {
      if (frame.call !== entry.call || !entry.pc) newPeer(entry, frame.call);
      await media.answer(entry, sent.description, signal(entry, frame.call));
    } else if (frame.call !== entry.call || !entry.pc) {
      return;
    } else if (sent.description && sent.description.type === "answer") {
      await media.answered(entry, sent.description);
    } else if (sent.candidate) {
      await media.addCandidate(entry, sent.candidate);
    } else if (sent.renegotiate && entry.offerer) {
      await startCall(entry, true);
    }
  }

  function onPeerState(entry, pc) {
    if (pc !== entry.pc) return;
    var now = pc.connectionState;
    entry.tile.dataset.pc = now;
    media.restartIfStuck(entry, now, function () {
      if (entry.offerer) startCall(entry, true);
      else send({ type: "signal", to: entry.id, call: entry.call, signal: { renegotiate: true } });
    });
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

  function showMedia(peerId, other) {
    var entry = state.peers[peerId];
    if (!entry || !entry.tile) return;
    entry.tile.querySelector(".mdt-media").textContent = media.describeMedia(other, words).join(" · ");
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

  var share = media.screenShare(state, {
    replace: function (track) {
      return Promise.all(Object.keys(state.peers).map(function (id) {
        return media.replaceVideo(state.peers[id].pc, track);
      }));
    },
    local: function () { return el("mdt-local"); },
    button: function () { return el("mdt-share"); },
    failed: function () { showError(words.shareFailed); }
  });

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
    media.leave(state);
    closeAll();
    showJoined(false);
    say(words.youLeft, "left");
  }

  function finish() {
    media.end(state);
    closeAll();
    showJoined(false);
    el("mdt-join").disabled = true;
    say(words.ended, "ended");
  }

  async function endSession() {
    if (!window.confirm(words.confirmEnd)) return;
    var answer = await media.postJson("/api/v1/teleconsults/" + encodeURIComponent(roomId) + "/room/end");
    if (!answer.ok) {
      showError(words.endFailed);
      return;
    }
    finish();
  }

  el("mdt-join").addEventListener("click", join);
  el("mdt-leave").addEventListener("click", leave);
  el("mdt-mute").addEventListener("click", function () { media.toggleMute(state, el("mdt-mute")); });
  el("mdt-camera").addEventListener("click", function () { media.toggleCamera(state, el("mdt-camera")); });
  el("mdt-share").addEventListener("click", share.toggle);
  el("mdt-end").addEventListener("click", endSession);
  document.querySelectorAll(".mdt-open").forEach(function (button) {
    button.addEventListener("click", function () { openItem(button.dataset.item, labelOf(button.dataset.item)); });
  });
  document.querySelectorAll(".mdt-show").forEach(function (button) {
    button.addEventListener("click", function () { showToEveryone(button.dataset.item); });
  });
  media.leaveOnHide(state);
})();
