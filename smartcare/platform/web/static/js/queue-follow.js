/* Pages that follow a queue live and reload when it changes: the patient's visits of today (each checked-in
   visit card, data-session) and the doctor's queue (#queue, data-session). The first message of a socket is
   the queue as it is, which the page already shows. */
(function () {
  var scheme = location.protocol === "https:" ? "wss://" : "ws://";
  document.querySelectorAll(".visit-card[data-session], #queue[data-session]").forEach(function (holder) {
    if (!holder.dataset.session) return;
    var socket = new WebSocket(scheme + location.host + "/ws/queue/" + encodeURIComponent(holder.dataset.session));
    var first = true;
    socket.onmessage = function () { if (first) { first = false; return; } location.reload(); };
  });
})();
