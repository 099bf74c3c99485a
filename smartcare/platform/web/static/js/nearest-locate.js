/* "Use my location" on the nearest-hospital page (navigation/nearest.html): the browser's position fills the
   form's lat/lon and sends it; if the position is refused or does not come, a note asks for a street instead.
   Without geolocation the button is hidden and the street field alone is used. */
(function () {
  var form = document.getElementById("where-form");
  var button = document.getElementById("where-locate");
  var failed = document.getElementById("where-failed");
  if (!form || !button || !failed) return;
  if (!("geolocation" in navigator)) { button.hidden = true; return; }
  button.addEventListener("click", function () {
    button.setAttribute("aria-busy", "true");
    failed.hidden = true;
    navigator.geolocation.getCurrentPosition(function (p) {
      document.getElementById("lat").value = p.coords.latitude.toFixed(5);
      document.getElementById("lon").value = p.coords.longitude.toFixed(5);
      document.getElementById("address").value = "";
      form.submit();
    }, function () {
      button.removeAttribute("aria-busy");
      failed.hidden = false;
    }, { timeout: 10000 });
  });
})();
