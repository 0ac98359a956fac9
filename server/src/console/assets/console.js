// Live device state for the console's pages, from /console/events (server-sent events).
// Pages work without it; with it, states and the pairing page update without a reload.
// Only textContent is written: names typed by people never become markup.
(function () {
  "use strict";
  if (!window.EventSource) return;
  var source = new EventSource("/console/events");

  function label(cell, state) {
    var key = "label" + state.charAt(0).toUpperCase() + state.slice(1);
    return cell.dataset[key] || state;
  }

  source.addEventListener("devices", function (event) {
    var devices = JSON.parse(event.data);
    devices.forEach(function (d) {
      document.querySelectorAll("[data-device-state]").forEach(function (cell) {
        if (cell.getAttribute("data-device-state") === d.id) {
          cell.dataset.state = d.state;
          cell.textContent = label(cell, d.state);
        }
      });
    });
    var pair = document.getElementById("pair-status");
    if (pair && pair.dataset.paired !== "true") {
      var known = JSON.parse(pair.dataset.known || "[]");
      var fresh = devices.filter(function (d) { return known.indexOf(d.id) < 0 && d.online; })[0];
      if (fresh) {
        pair.dataset.paired = "true";
        pair.querySelector(".waiting").hidden = true;
        pair.querySelector(".connected").hidden = false;
        pair.querySelector(".name").textContent = fresh.name;
      }
    }
  });
})();
