/* The sharing choices (consent/sharing.html): the institution-by-institution choices show only while "Yes,
   share" is chosen. Without scripts they always show. */
(function () {
  var form = document.querySelector("form[data-sharing-choices]");
  if (!form) return;
  var detail = form.querySelector("[data-shown-when-sharing]");
  function show() {
    var chosen = form.querySelector('input[name="share"]:checked');
    detail.hidden = !chosen || chosen.value !== "yes";
  }
  form.querySelectorAll('input[name="share"]').forEach(function (radio) { radio.addEventListener("change", show); });
  show();
})();
