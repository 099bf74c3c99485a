/* The symptom check's body map (triage/start.html): tapping a region ticks its box and adds its words to the
   description; ticking a box marks the region. Without scripts the boxes alone still work. */
(function () {
  var text = document.getElementById("triage-text");
  function toggle(region) {
    var key = region.getAttribute("data-region");
    var box = document.querySelector('[data-region-box="' + key + '"]');
    var on = region.getAttribute("aria-pressed") !== "true";
    region.setAttribute("aria-pressed", on ? "true" : "false");
    if (box) { box.checked = on; }
    var words = region.getAttribute("data-words");
    if (on && text.value.indexOf(words) === -1) {
      text.value = text.value.trim() ? text.value.trim() + ", " + words : words;
    }
  }
  document.querySelectorAll("[data-region]").forEach(function (region) {
    region.addEventListener("click", function () { toggle(region); });
    region.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(region); }
    });
  });
  document.querySelectorAll("[data-region-box]").forEach(function (box) {
    box.addEventListener("change", function () {
      var region = document.querySelector('[data-region="' + box.getAttribute("data-region-box") + '"]');
      if (region && (region.getAttribute("aria-pressed") === "true") !== box.checked) { toggle(region); }
    });
  });
})();
