// Live state for the console's pages, from /console/events (server-sent events): device
// states, the pairing page's "phone connected", a message page's status and timeline, and
// the status of each message in the messages list.
// Pages work without it. Only textContent is written: text people typed never becomes markup.
(function () {
  "use strict";
  if (!window.EventSource) return;
  var page = document.querySelector("[data-live-message]");
  var url = "/console/events";
  if (page) {
    url += "?message=" + encodeURIComponent(page.getAttribute("data-live-message"));
  } else {
    var listed = [];
    document.querySelectorAll("[data-message-status]").forEach(function (cell) {
      listed.push(cell.getAttribute("data-message-status"));
    });
    if (listed.length) url += "?messages=" + encodeURIComponent(listed.slice(0, 100).join(","));
  }
  var source = new EventSource(url);

  function deviceLabel(cell, state) {
    var key = "label" + state.charAt(0).toUpperCase() + state.slice(1);
    return cell.dataset[key] || state;
  }

  source.addEventListener("devices", function (event) {
    var devices = JSON.parse(event.data);
    devices.forEach(function (d) {
      document.querySelectorAll("[data-device-state]").forEach(function (cell) {
        if (cell.getAttribute("data-device-state") === d.id) {
          cell.dataset.state = d.state;
          cell.textContent = deviceLabel(cell, d.state);
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

  function setStatus(requestId, status) {
    var labels = {};
    document.querySelectorAll("[data-message-status]").forEach(function (cell) {
      if (cell.getAttribute("data-message-status") !== requestId) return;
      labels = JSON.parse(cell.dataset.labels || "{}");
      cell.dataset.state = status;
      cell.textContent = labels[status] || status;
    });
    return labels;
  }

  source.addEventListener("statuses", function (event) {
    JSON.parse(event.data).forEach(function (m) { setStatus(m.request_id, m.status); });
  });

  source.addEventListener("message", function (event) {
    var m = JSON.parse(event.data);
    var labels = setStatus(m.request_id, m.status);
    var timeline = document.getElementById("timeline");
    if (timeline) {
      timeline.textContent = "";
      m.events.forEach(function (e) {
        var item = document.createElement("li");
        item.textContent = e.at + " — " + (labels[e.status] || e.status) + (e.detail ? " — " + e.detail : "");
        timeline.appendChild(item);
      });
    }
  });
})();
