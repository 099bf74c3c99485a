/* What the 1:1 video visit (video.js) and the multi-disciplinary room (room.js) do alike with the camera, the
   microphone, the signalling socket and a peer connection, as one namespace: window.smartcareMedia. Loaded
   before either page script. Plain JavaScript, no third-party code.

   A page keeps a `state` ({ws, joined, ended, retry, local, screen, muted, cameraOff, sharing, ...}); a "link"
   is one peer connection with its bookkeeping ({pc, call, queued, chain, restartTimer}): the visit's state is
   its only link, each room participant's entry is one. */
(function () {
  "use strict";

  var RESTART_AFTER_MS = 4000;
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";

  function el(id) { return document.getElementById(id); }

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return String(values[key]); });
  }

  function randomId() {
    var bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function press(button, on) { button.setAttribute("aria-pressed", on ? "true" : "false"); }

  // The camera and microphone asked for, else the microphone alone, else nothing (one can still see and hear
  // the others): {stream, found: "both" | "microphone" | "none"}.
  async function openDevices(constraints) {
    try {
      return { stream: await navigator.mediaDevices.getUserMedia(constraints), found: "both" };
    } catch (cameraError) {
      try {
        return { stream: await navigator.mediaDevices.getUserMedia({ audio: true }), found: "microphone" };
      } catch (micError) {
        return { stream: new MediaStream(), found: "none" };
      }
    }
  }

  // ---- the signalling socket ----

  // Opens state.ws on path; on.frame(frame) for each frame, on.lost() when the socket closes, on.refused() when
  // the server refused it (1008), on.reconnecting() before trying again with a growing delay.
  function connect(state, path, on) {
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(scheme + "//" + location.host + path);
    state.ws = ws;
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      on.frame(frame);
    };
    ws.onclose = function (event) {
      if (state.ws !== ws) return;
      state.ws = null;
      if (on.lost) on.lost();
      if (state.ended || !state.joined) return;
      if (event.code === 1008) {
        state.joined = false;
        on.refused();
        return;
      }
      on.reconnecting();
      var delay = Math.min(8000, 500 * Math.pow(2, state.retry++));
      setTimeout(function () { if (state.joined && !state.ws) connect(state, path, on); }, delay);
    };
  }

  function send(state, frame) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(frame));
  }

  function sendMedia(state) {
    send(state, { type: "media", state: { audio: !state.muted, video: !state.cameraOff, screen: state.sharing } });
  }

  function closeSocket(state) {
    var ws = state.ws;
    state.ws = null;
    if (ws) ws.close();
  }

  // Hang up: tell the others, then close the socket (it is not reopened).
  function leave(state) {
    send(state, { type: "leave" });
    state.joined = false;
    closeSocket(state);
  }

  // The call is over for good.
  function end(state) {
    state.ended = true;
    state.joined = false;
    closeSocket(state);
  }

  function leaveOnHide(state) {
    window.addEventListener("pagehide", function () { if (state.joined) send(state, { type: "leave" }); });
  }

  // Handle signals of a link one at a time, in the order they came; a failure shows as text.
  function inTurn(link, work, showError) {
    link.chain = link.chain.then(work).catch(function (error) {
      showError(String(error && error.message || error));
    });
  }

  function postJson(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {})
    });
  }

  // ---- a peer connection ----

  function videoSender(pc) {
    var found = pc.getTransceivers().filter(function (t) {
      return t.receiver.track && t.receiver.track.kind === "video" && !t.stopped;
    });
    return found.length ? found[0].sender : null;
  }

  function replaceVideo(pc, track) {
    var sender = pc ? videoSender(pc) : null;
    return sender ? sender.replaceTrack(track) : Promise.resolve();
  }

  // A new peer connection for link carrying state.local (or the screen being shared). opts: offerer (it makes
  // the offers, so it also asks to receive what it does not send), video() (the element showing the other
  // side), signal(signal) (send one of ours), changed(pc) (its connection state changed).
  function newPeer(state, link, callId, opts) {
    var pc = new RTCPeerConnection({ iceServers: state.iceServers });
    link.pc = pc;
    link.call = callId;
    link.queued = [];
    var stream = state.local || new MediaStream();
    stream.getTracks().forEach(function (track) { pc.addTrack(track, stream); });
    if (opts.offerer) {
      // Receive both kinds even without a device, and keep a video sender for screen sharing.
      ["audio", "video"].forEach(function (kind) {
        if (!stream.getTracks().some(function (t) { return t.kind === kind; })) {
          pc.addTransceiver(kind, { direction: kind === "video" ? "sendrecv" : "recvonly" });
        }
      });
    }
    if (state.sharing && state.screen) replaceVideo(pc, state.screen.getVideoTracks()[0]);
    pc.ontrack = function (event) {
      var video = opts.video();
      var remote = event.streams[0] || new MediaStream([event.track]);
      if (video.srcObject !== remote) video.srcObject = remote;
    };
    pc.onicecandidate = function (event) {
      if (event.candidate) opts.signal({ candidate: event.candidate.toJSON() });
    };
    pc.onconnectionstatechange = function () { opts.changed(pc); };
    return pc;
  }

  function closePeer(link) {
    clearTimeout(link.restartTimer);
    if (link.pc) {
      link.pc.onconnectionstatechange = null;
      link.pc.close();
    }
    link.pc = null;
  }

  // An offer (or an ICE restart) on pc, sent unless link moved on to another connection meanwhile.
  async function offer(link, pc, iceRestart, signal) {
    var made = await pc.createOffer(iceRestart ? { iceRestart: true } : {});
    if (pc !== link.pc) return;
    await pc.setLocalDescription(made);
    signal({ description: { type: "offer", sdp: pc.localDescription.sdp } });
  }

  async function answer(link, description, signal) {
    var pc = link.pc;
    await pc.setRemoteDescription(description);
    await flushCandidates(link);
    await pc.setLocalDescription(await pc.createAnswer());
    signal({ description: { type: "answer", sdp: pc.localDescription.sdp } });
  }

  async function answered(link, description) {
    await link.pc.setRemoteDescription(description);
    await flushCandidates(link);
  }

  // A candidate that comes before the other side's description waits for it.
  async function addCandidate(link, candidate) {
    var pc = link.pc;
    if (!pc) return;
    if (!pc.remoteDescription) {
      link.queued.push(candidate);
      return;
    }
    await pc.addIceCandidate(candidate);
  }

  async function flushCandidates(link) {
    var queued = link.queued;
    link.queued = [];
    for (var i = 0; i < queued.length; i++) await link.pc.addIceCandidate(queued[i]);
  }

  // After a connection state change: restart() once a "disconnected" lasts, or at once on "failed".
  function restartIfStuck(link, now, restart) {
    clearTimeout(link.restartTimer);
    if (now !== "disconnected" && now !== "failed") return;
    // A brief "disconnected" often heals itself; one that lasts, or a failure, needs new ICE candidates.
    link.restartTimer = setTimeout(function () {
      if (!link.pc || link.pc.connectionState === "connected") return;
      restart();
    }, now === "failed" ? 0 : RESTART_AFTER_MS);
  }

  // ---- controls ----

  function toggleMute(state, button) {
    state.muted = !state.muted;
    if (state.local) state.local.getAudioTracks().forEach(function (t) { t.enabled = !state.muted; });
    press(button, state.muted);
    sendMedia(state);
  }

  function toggleCamera(state, button) {
    state.cameraOff = !state.cameraOff;
    if (state.local) state.local.getVideoTracks().forEach(function (t) { t.enabled = !state.cameraOff; });
    press(button, state.cameraOff);
    sendMedia(state);
  }

  // Screen sharing: opts.replace(track) puts a video track on every connection, opts.local is the element
  // showing our own picture, opts.button the share button, opts.failed() says the browser would not share.
  // The share stops from the button or from the browser's own "stop sharing".
  function screenShare(state, opts) {
    async function stop() {
      if (!state.sharing) return;
      state.sharing = false;
      if (state.screen) state.screen.getTracks().forEach(function (t) { t.stop(); });
      state.screen = null;
      await opts.replace(state.local ? state.local.getVideoTracks()[0] || null : null);
      opts.local().srcObject = state.local;
      press(opts.button(), false);
      sendMedia(state);
    }
    async function toggle() {
      if (state.sharing) return stop();
      try {
        state.screen = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
      } catch (error) {
        opts.failed();
        return;
      }
      var track = state.screen.getVideoTracks()[0];
      track.onended = stop;
      state.sharing = true;
      await opts.replace(track);
      opts.local().srcObject = state.screen;
      press(opts.button(), true);
      sendMedia(state);
    }
    return { toggle: toggle, stop: stop };
  }

  // What another side's media state means, in the words given: {muted, cameraOff, sharing}.
  function describeMedia(media, said) {
    var lines = [];
    if (media.audio === false) lines.push(said.muted);
    if (media.video === false && !media.screen) lines.push(said.cameraOff);
    if (media.screen) lines.push(said.sharing);
    return lines;
  }

  window.smartcareMedia = {
    el: el, fill: fill, randomId: randomId, press: press, openDevices: openDevices,
    connect: connect, send: send, sendMedia: sendMedia, leave: leave, end: end, leaveOnHide: leaveOnHide,
    inTurn: inTurn, postJson: postJson,
    replaceVideo: replaceVideo, newPeer: newPeer, closePeer: closePeer, offer: offer, answer: answer,
    answered: answered, addCandidate: addCandidate, restartIfStuck: restartIfStuck,
    toggleMute: toggleMute, toggleCamera: toggleCamera, screenShare: screenShare, describeMedia: describeMedia
  };
})();
