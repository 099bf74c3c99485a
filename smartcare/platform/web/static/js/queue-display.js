/* One doctor's queue display (queue/display.html): the number called and the next five, live over the queue's
   WebSocket, announced aloud once sound is turned on. The session, room and last call come as data-* on
   #queue-display. */
(function () {
  var display = document.getElementById("queue-display");
  if (!display) return;
  var session = display.dataset.session;
  var room = display.dataset.room || "";
  var lang = document.documentElement.lang;
  var speak = false;
  var last = display.dataset.last || "";
  document.getElementById("sound").addEventListener("click", function () { speak = true; this.disabled = true; });
  function announce(number) {
    if (!speak || !("speechSynthesis" in window)) return;
    var text = lang === "zh-Hans" ? "请 " + number + " 号到" + room + "就诊" : "Number " + number + ", please go to " + room;
    var utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = lang === "zh-Hans" ? "zh-CN" : "en";
    window.speechSynthesis.speak(utterance);
  }
  var scheme = location.protocol === "https:" ? "wss://" : "ws://";
  var socket = new WebSocket(scheme + location.host + "/ws/queue/" + encodeURIComponent(session));
  socket.onmessage = function (message) {
    var view = JSON.parse(message.data);
    var called = view.called ? String(view.called.number) : "—";
    document.getElementById("called").textContent = called;
    document.getElementById("next").textContent = view.waiting.slice(0, 5).map(function (w) { return w.number; }).join("  ") || "—";
    var key = view.called ? view.called.number + ":" + view.called.recalls : "";
    if (key && key !== last) { announce(view.called.number); }
    last = key;
  };
})();
