/* ClinicDesk booking widget: <script src="…/portal/{org}/widget.js" async></script>
   puts the clinic's slot search in an iframe where the script tag is; choosing a time
   opens the booking in a new tab (signing in and booking never happen inside a frame). */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var frame = document.createElement("iframe");
  frame.src = new URL("__PORTAL__", script.src).href;
  frame.title = "__TITLE__";
  frame.loading = "lazy";
  frame.referrerPolicy = "strict-origin";  // the site's origin only: the server checks it
  frame.style.width = "100%";
  frame.style.maxWidth = "40rem";
  frame.style.height = script.getAttribute("data-height") || "640px";
  frame.style.border = "1px solid #c5ccd6";
  frame.style.borderRadius = "8px";
  script.parentNode.insertBefore(frame, script.nextSibling);
}());
