/* A clinic's wall display (queue/clinic.html): every doctor's room, the number called and the next ones, live
   over the clinic's WebSocket; a new call is highlighted, shown as a sentence and, once sound is on, spoken.
   The clinic, the sentences in the page's language and each session's last call come as JSON in
   #clinic-display-data; new rows are cloned from #row-template. */
(function () {
  var source = document.getElementById("clinic-display-data");
  if (!source) return;
  var data = JSON.parse(source.textContent);
  var clinic = data.clinic;
  var area = data.area || "";
  var lang = document.documentElement.lang;
  var say = data.say;
  var sayNoRoom = data.sayNoRoom;
  var speak = false;
  var last = data.last || {};
  document.getElementById("sound").addEventListener("click", function () { speak = true; this.disabled = true; });
  function sentence(row) {
    var text = row.room ? say.replace("{room}", row.room) : sayNoRoom;
    return text.replace("{number}", String(row.called.number));
  }
  function announce(row) {
    var latest = document.getElementById("latest");
    latest.textContent = sentence(row);
    latest.hidden = false;
    if (!speak || !("speechSynthesis" in window)) return;
    var utterance = new SpeechSynthesisUtterance(sentence(row));
    utterance.lang = lang === "zh-Hans" ? "zh-CN" : "en";
    window.speechSynthesis.speak(utterance);
  }
  function render(view) {
    var list = document.getElementById("rows");
    var template = document.getElementById("row-template");
    var seen = {};
    view.sessions.forEach(function (row) {
      var item = list.querySelector('li[data-session="' + CSS.escape(row.session) + '"]');
      if (!item) {
        item = template.content.firstElementChild.cloneNode(true);
        item.setAttribute("data-session", row.session);
      }
      list.appendChild(item);  // keeps the server's order
      item.querySelector(".clinic-display__room").textContent = row.room || "—";
      item.querySelector(".clinic-display__doctor").textContent = row.doctor;
      item.querySelector("[data-called]").textContent = row.called ? String(row.called.number) : "—";
      item.querySelector("[data-next]").textContent = row.next.length ? row.next.join("  ") : "—";
      var key = row.called ? row.called.number + ":" + row.called.recalls : "";
      if (key && last[row.session] !== undefined && key !== last[row.session]) {
        item.classList.add("is-new");
        setTimeout(function () { item.classList.remove("is-new"); }, 8000);
        announce(row);
      }
      last[row.session] = key;
      seen[row.session] = true;
    });
    Array.prototype.slice.call(list.children).forEach(function (item) {
      if (!seen[item.getAttribute("data-session")]) list.removeChild(item);
    });
    document.getElementById("empty").hidden = view.sessions.length > 0;
  }
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var query = "?lang=" + encodeURIComponent(lang) + (area ? "&area=" + encodeURIComponent(area) : "");
    var socket = new WebSocket(scheme + location.host + "/ws/queue/clinic/" + encodeURIComponent(clinic) + query);
    socket.onopen = function () { document.getElementById("offline").hidden = true; };
    socket.onmessage = function (message) { render(JSON.parse(message.data)); };
    socket.onclose = function () {
      document.getElementById("offline").hidden = false;
      setTimeout(connect, 5000);
    };
  }
  connect();
})();
