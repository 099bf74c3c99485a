/* A button marked data-print prints the page (a specimen label, a registration slip); the page's print styles
   choose what goes on paper. */
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
