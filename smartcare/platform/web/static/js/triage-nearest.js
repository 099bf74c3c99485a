/* An emergency result (triage/result.html): "Use my location" fetches the nearest emergency departments into
   #triage-nearest, at once if the browser already allows the position. */
(function () {
  var box = document.getElementById("triage-nearest");
  var button = document.getElementById("triage-locate");
  if (!navigator.geolocation || !box || box.children.length) { return; }
  function locate() {
    navigator.geolocation.getCurrentPosition(function (p) {
      var url = "/app/triage/nearest-emergency?lat=" + p.coords.latitude.toFixed(5) + "&lon=" + p.coords.longitude.toFixed(5);
      fetch(url, {credentials: "same-origin"}).then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (html) { if (html) { box.innerHTML = html; button.hidden = true; } });
    }, function () {}, {timeout: 10000, maximumAge: 600000});
  }
  button.hidden = false;
  button.addEventListener("click", locate);
  if (navigator.permissions) {
    navigator.permissions.query({name: "geolocation"}).then(function (s) { if (s.state === "granted") { locate(); } });
  }
})();
