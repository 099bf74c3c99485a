// The online consultation's chat, for the patient app and the workstation alike (no libraries).
// Live over the consultation WebSocket; after a dropped connection it reconnects with since=<last number seen>,
// so nothing is lost, and every message carries the client's own id, so a resend is stored once. When the
// socket cannot be kept open it falls back to polling the HTTP endpoints. Messages are numbered by the server
// and shown once each, in order. Receipts: one tick sent, two delivered, two coloured read.
(function () {
  "use strict";

  var root = document.getElementById("chat");
  if (!root) { return; }
  var cid = root.dataset.consultation;
  var side = root.dataset.side;
  var base = "/api/v1/consultations/" + encodeURIComponent(cid);
  var log = document.getElementById("chat-log");
  var state = document.getElementById("chat-state");
  var compose = document.getElementById("chat-compose");
  var text = document.getElementById("chat-text");
  var photo = document.getElementById("chat-photo");
  var words = JSON.parse(document.getElementById("chat-words").textContent);
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";

  var lastSeq = 0;           // the highest message number shown
  var readUpTo = 0;          // the other side's messages we have reported read up to
  var pending = {};          // client id -> text, sent but not acknowledged
  var socket = null;
  var failures = 0;          // socket attempts in a row that did not open
  var polling = null;
  var typingSent = false;
  var typingTimer = null;
  var theirTypingTimer = null;

  Array.prototype.forEach.call(log.querySelectorAll("li[data-seq]"), function (li) {
    lastSeq = Math.max(lastSeq, Number(li.dataset.seq));
  });

  function clientId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return "c-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  function say(message) { state.textContent = message || ""; }

  function refusalText(body) {
    if (body && body.error && words.refusals[body.error]) { return words.refusals[body.error]; }
    return (body && body.message) || words.words.failed;
  }

  // The region's wall-clock time, as the server writes it on the page ("YYYY-MM-DD HH:MM").
  var wallClock = null;
  try {
    wallClock = new Intl.DateTimeFormat("en-CA", {timeZone: words.tz, year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23"});
  } catch (err) { wallClock = null; }

  function clock(instant) {
    var d = new Date(instant);
    if (isNaN(d.getTime())) { return instant || ""; }
    if (wallClock) {
      var parts = {};
      wallClock.formatToParts(d).forEach(function (p) { parts[p.type] = p.value; });
      return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute;
    }
    return d.toISOString().slice(0, 16).replace("T", " ");
  }

  function tick(el, m) {
    var s = m.read ? "read" : (m.delivered ? "delivered" : "sent");
    el.dataset.state = s;
    el.textContent = s === "sent" ? "✓" : "✓✓";
    el.title = words.words[s];
  }

  function element(tag, className, textContent) {
    var el = document.createElement(tag);
    if (className) { el.className = className; }
    if (textContent) { el.textContent = textContent; }
    return el;
  }

  // The same markup as the server's history (consultation/_chat.html, macro message): a label by kind, then
  // what the kind carries.
  function bubble(m) {
    var mine = m.side === side;
    var kind = m.kind || "message";
    var li = element("li", "msg " + (mine ? "msg--mine" : "msg--theirs") + " msg--" + kind);
    li.dataset.kind = kind;
    if (m.seq) { li.dataset.seq = m.seq; }
    li.dataset.clientId = m.client_id;
    if (words.labels[kind]) { li.appendChild(element("span", "msg__label", words.labels[kind])); }
    if (m.photo) {
      var a = element("a");
      a.href = base + "/photos/" + encodeURIComponent(m.photo);
      a.target = "_blank";
      a.rel = "noopener";
      var img = element("img", "msg__photo");
      img.src = a.href;
      img.alt = words.words.photo;
      a.appendChild(img);
      li.appendChild(a);
    }
    if (kind === "video" && m.video) {
      var p = element("p", "msg__text", words.words.video_started + " ");
      var link = element("a", "msg__link", words.words.open_video);
      link.href = (side === "doctor" ? "/workstation" : "/app") + "/video/" + encodeURIComponent(m.video);
      p.appendChild(link);
      li.appendChild(p);
    } else if (kind === "reports" && m.text) {
      var list = element("ul", "msg__list");
      m.text.split("; ").forEach(function (title) { list.appendChild(element("li", "", title)); });
      li.appendChild(list);
    } else if (kind === "orders" && m.text) {
      var tests = element("ul", "msg__list");
      m.text.split("\n").forEach(function (line) { tests.appendChild(element("li", "", line)); });
      li.appendChild(tests);
    } else if (m.text) {
      li.appendChild(element("p", "msg__text", m.text));
    }
    if (kind === "prescription") { li.appendChild(element("p", "msg__note", words.words.reviewed)); }
    if (kind === "orders") { li.appendChild(element("p", "msg__note", words.words.orders_where)); }
    var meta = document.createElement("span");
    meta.className = "msg__meta";
    var time = document.createElement("time");
    time.dateTime = m.sent || "";
    time.textContent = m.sent ? clock(m.sent) : "…";
    meta.appendChild(time);
    if (mine) {
      meta.appendChild(document.createTextNode(" "));
      var t = document.createElement("span");
      t.className = "msg__tick";
      meta.appendChild(t);
      if (m.seq) { tick(t, m); } else { t.textContent = "…"; }
    }
    li.appendChild(meta);
    return li;
  }

  // The newest message in view: the log scrolls on its own on wide screens, the page on phones.
  function scrollDown() {
    log.scrollTop = log.scrollHeight;
    var last = compose || log;
    var end = last.getBoundingClientRect().bottom + window.scrollY;
    window.scrollTo(0, Math.max(0, end - window.innerHeight + 16));
  }
  log.addEventListener("load", function (e) { if (e.target.tagName === "IMG") { scrollDown(); } }, true);

  // Show a stored message once, in number order; a pending bubble of ours is replaced by it.
  function show(m) {
    if (log.querySelector('li[data-seq="' + m.seq + '"]')) { return; }
    var waiting = log.querySelector('li[data-client-id="' + CSS.escape(m.client_id) + '"]:not([data-seq])');
    var li = bubble(m);
    if (waiting) { waiting.replaceWith(li); } else {
      var after = null;
      Array.prototype.forEach.call(log.querySelectorAll("li[data-seq]"), function (x) {
        if (Number(x.dataset.seq) > m.seq && after === null) { after = x; }
      });
      log.insertBefore(li, after || log.querySelector(":scope > li:not([data-seq])"));
    }
    delete pending[m.client_id];
    lastSeq = Math.max(lastSeq, m.seq);
    scrollDown();
    if (m.side !== side) { acknowledge(m.seq); }
  }

  function acknowledge(seq) {
    // A pool doctor looking before picking up has not read anything for the patient.
    if (side === "doctor" && root.dataset.status === "waiting") { return; }
    var kind = document.visibilityState === "visible" ? "read" : "delivered";
    if (kind === "read") { readUpTo = Math.max(readUpTo, seq); }
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({type: kind, up_to: seq}));
    } else {
      post("/receipts", {up_to: seq, receipt: kind});
    }
  }

  function receipt(event) {
    if (event.by === side) { return; }
    Array.prototype.forEach.call(log.querySelectorAll("li.msg--mine[data-seq]"), function (li) {
      if (Number(li.dataset.seq) <= event.up_to) {
        var t = li.querySelector(".msg__tick");
        var was = t.dataset.state;
        if (event.receipt === "read" || was === "sent") {
          tick(t, {read: event.receipt === "read" || was === "read", delivered: true});
        }
      }
    });
  }

  function post(path, body) {
    return fetch(base + path, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}, body: JSON.stringify(body)
    });
  }

  function sendOverHttp(id, message) {
    return post("/messages", {client_id: id, text: message}).then(function (r) {
      return r.json().then(function (body) {
        if (r.ok) { show(body); } else { fail(id, body); }
      });
    }).catch(function () { markFailed(id); });
  }

  function markFailed(id) {
    var li = log.querySelector('li[data-client-id="' + CSS.escape(id) + '"]:not([data-seq])');
    if (li) { li.classList.add("msg--failed"); li.title = words.words.failed; }
  }

  function fail(id, body) {
    markFailed(id);
    delete pending[id];
    say(refusalText(body));
  }

  function send(message) {
    var id = clientId();
    pending[id] = message;
    log.appendChild(bubble({client_id: id, text: message, side: side, category: "message"}));
    scrollDown();
    transmit(id);
  }

  function transmit(id) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({type: "send", client_id: id, text: pending[id]}));
    } else {
      sendOverHttp(id, pending[id]);
    }
  }

  // Tapping a failed bubble sends it again under the same id (stored once whatever happened before).
  log.addEventListener("click", function (e) {
    var li = e.target.closest("li.msg--failed");
    if (!li) { return; }
    var id = li.dataset.clientId;
    var p = li.querySelector(".msg__text");
    pending[id] = p ? p.textContent : "";
    li.classList.remove("msg--failed");
    transmit(id);
  });

  function handle(frame) {
    switch (frame.type) {
      case "message": show(frame.message); break;
      case "ack":
        // The stored message follows on the socket; fetch it only if it has not come shortly after.
        setTimeout(function () {
          if (!log.querySelector('li[data-seq="' + frame.seq + '"]')) { refresh(); }
        }, 1500);
        break;
      case "receipt": receipt(frame); break;
      case "typing":
        say(frame.typing ? words.words.typing : "");
        clearTimeout(theirTypingTimer);
        if (frame.typing) { theirTypingTimer = setTimeout(function () { say(""); }, 6000); }
        break;
      case "status": window.location.reload(); break;
      case "error":
        if (frame.client_id) { fail(frame.client_id, frame); } else { say(refusalText(frame)); }
        break;
      default: break;
    }
  }

  // Catch up over HTTP (the fallback, and after an ack whose message has not arrived yet).
  function refresh() {
    return fetch(base + "/messages?since=" + lastSeq, {credentials: "same-origin"}).then(function (r) {
      return r.ok ? r.json() : [];
    }).then(function (list) { list.forEach(show); }).catch(function () {});
  }

  function checkStatus() {
    fetch(base, {credentials: "same-origin"}).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (c) { if (c && c.status !== root.dataset.status) { window.location.reload(); } })
      .catch(function () {});
  }

  function startPolling() {
    if (polling) { return; }
    root.dataset.live = "polling";
    say(words.words.polling);
    polling = setInterval(function () {
      refresh();
      checkStatus();
      Object.keys(pending).forEach(function (id) { sendOverHttp(id, pending[id]); });
    }, 4000);
  }

  function stopPolling() {
    if (polling) { clearInterval(polling); polling = null; }
  }

  function connect() {
    if (!("WebSocket" in window)) { startPolling(); return; }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var opened = false;
    socket = new WebSocket(scheme + window.location.host + base + "/ws?since=" + lastSeq);
    socket.onopen = function () {
      opened = true;
      failures = 0;
      root.dataset.live = "socket";
      stopPolling();
      say("");
      Object.keys(pending).forEach(transmit);
    };
    socket.onmessage = function (e) {
      var frame;
      try { frame = JSON.parse(e.data); } catch (err) { return; }
      handle(frame);
    };
    socket.onclose = function () {
      socket = null;
      root.dataset.live = "offline";
      failures = opened ? 1 : failures + 1;
      if (failures >= 3) { startPolling(); } else { say(words.words.offline); }
      // Back off up to half a minute; keep trying even while polling, so live chat comes back when it can.
      setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, failures)));
    };
  }

  function typing(now) {
    if (!socket || socket.readyState !== WebSocket.OPEN || now === typingSent) { return; }
    typingSent = now;
    socket.send(JSON.stringify({type: "typing", typing: now}));
  }

  if (compose) {
    compose.addEventListener("submit", function (e) {
      e.preventDefault();
      var message = text.value.trim();
      if (!message) { return; }
      text.value = "";
      typing(false);
      send(message.slice(0, 4000));
    });
    text.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { compose.requestSubmit(); }
    });
    text.addEventListener("input", function () {
      typing(true);
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { typing(false); }, 3000);
    });
  }

  if (photo) {
    photo.parentElement.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); photo.click(); }
    });
    photo.addEventListener("change", function () {
      var file = photo.files && photo.files[0];
      if (!file) { return; }
      var data = new FormData();
      data.append("file", file);
      data.append("client_id", clientId());
      say(words.words.uploading);
      fetch(base + "/photos", {method: "POST", credentials: "same-origin", headers: {"X-CSRF-Token": csrf},
                               body: data})
        .then(function (r) {
          return r.json().then(function (body) {
            if (r.ok) { say(""); show(body); } else { say(refusalText(body)); }
          });
        })
        .catch(function () { say(words.words.failed); })
        .finally(function () { photo.value = ""; });
    });
  }

  // The doctor's quick replies and templates fill the message box; the doctor edits and sends.
  Array.prototype.forEach.call(document.querySelectorAll("[data-reply]"), function (button) {
    button.addEventListener("click", function () {
      if (!text) { return; }
      text.value = text.value ? text.value + " " + button.dataset.reply : button.dataset.reply;
      text.focus();
    });
  });
  var templates = document.querySelector(".reply-templates");
  if (templates && text) {
    templates.addEventListener("change", function () {
      if (templates.value) { text.value = templates.value; text.focus(); }
      templates.selectedIndex = 0;
    });
  }

  document.addEventListener("visibilitychange", function () {
    var theirs = log.querySelectorAll("li.msg--theirs[data-seq]");
    var last = theirs.length ? Number(theirs[theirs.length - 1].dataset.seq) : 0;
    if (document.visibilityState === "visible" && last > readUpTo) { acknowledge(last); }
  });

  var theirs = log.querySelectorAll("li.msg--theirs[data-seq]");
  if (theirs.length && document.visibilityState === "visible") {
    acknowledge(Number(theirs[theirs.length - 1].dataset.seq));
  }
  scrollDown();
  if (root.dataset.status === "waiting" || root.dataset.status === "in_progress") { connect(); }
}());
