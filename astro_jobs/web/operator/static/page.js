// The operator page updates itself in place: every few seconds it fetches
// /page.json (the same data the server rendered the page from) and swaps in
// the sections marked data-live. The upload form, the search box and the
// bulk form are outside those sections, so what was typed or chosen stays;
// ticked job boxes are ticked again after each swap.
(function () {
  "use strict";
  var PERIOD_MS = 5000;
  var status = document.getElementById("live-status");
  var pressed = false;  // a click under way must land on the button it began on

  function ticked() {
    var boxes = document.querySelectorAll('input[name="job"]:checked');
    return Array.prototype.map.call(boxes, function (box) { return box.value; });
  }

  function tickAgain(ids) {
    ids.forEach(function (id) {
      var box = document.querySelector('input[name="job"][value="' + id + '"]');
      if (box) { box.checked = true; }
    });
  }

  function swap(data) {
    if (pressed) { return; }
    var keep = ticked();
    Object.keys(data.html).forEach(function (name) {
      var section = document.querySelector('[data-live="' + name + '"]');
      if (section && section.innerHTML !== data.html[name]) {
        section.innerHTML = data.html[name];
      }
    });
    tickAgain(keep);
    document.body.setAttribute("data-updated", data.generated_at);
    if (status) {
      status.textContent = "updated " + new Date(data.generated_at).toLocaleTimeString();
      status.className = "";
    }
  }

  function failed() {
    if (status) {
      status.textContent = "not updated: the server did not answer; retrying";
      status.className = "error";
    }
  }

  function poll() {
    if (document.hidden) {  // a tab nobody looks at costs the server nothing
      window.setTimeout(poll, PERIOD_MS);
      return;
    }
    fetch("/page.json" + window.location.search,
          {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (reply) {
        if (!reply.ok) { throw new Error("HTTP " + reply.status); }
        return reply.json();
      })
      .then(swap, failed)
      .then(function () { window.setTimeout(poll, PERIOD_MS); });
  }

  document.addEventListener("pointerdown", function () { pressed = true; });
  ["pointerup", "pointercancel"].forEach(function (name) {
    document.addEventListener(name, function () {
      window.setTimeout(function () { pressed = false; }, 0);
    });
  });

  document.addEventListener("change", function (event) {
    if (event.target.id !== "select-all") { return; }
    var boxes = document.querySelectorAll('input[name="job"]');
    Array.prototype.forEach.call(boxes, function (box) { box.checked = event.target.checked; });
  });

  window.setTimeout(poll, PERIOD_MS);
}());
