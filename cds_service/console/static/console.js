// Hover read-out for chart marks: shows a mark's numbers (its data-tip) beside the pointer at
// once, where the browser's own <title> tooltip would wait. Nothing is fetched.
(function () {
  "use strict";
  var tip = null;
  function show(event) {
    var mark = event.target.closest ? event.target.closest("[data-tip]") : null;
    if (!tip) { tip = document.getElementById("tip"); }
    if (!tip) { return; }
    if (!mark) { tip.hidden = true; return; }
    tip.textContent = mark.getAttribute("data-tip");
    tip.hidden = false;
    var x = Math.min(event.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
    var y = event.clientY + 16;
    if (y + tip.offsetHeight > window.innerHeight) { y = event.clientY - tip.offsetHeight - 10; }
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }
  document.addEventListener("mousemove", show);
  document.addEventListener("mouseleave", function () { if (tip) { tip.hidden = true; } });
}());
