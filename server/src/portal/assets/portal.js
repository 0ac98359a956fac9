// The portal's language tabs (switched in place, remembered in the URL) and copy buttons.
// Everything works without it: the tabs are links that reload the page.
(function () {
  "use strict";
  function choose(lang) {
    document.querySelectorAll(".snippet").forEach(function (block) {
      block.hidden = block.dataset.lang !== lang;
    });
    document.querySelectorAll("nav.langs a").forEach(function (link) {
      if (link.dataset.lang === lang) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    });
    var url = new URL(window.location.href);
    url.searchParams.set("lang", lang);
    history.replaceState(null, "", url);
  }
  document.querySelectorAll("nav.langs a").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      choose(link.dataset.lang);
    });
  });
  document.querySelectorAll(".snippet pre").forEach(function (pre) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = "Copy";
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(pre.textContent).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 1500);
      });
    });
    pre.parentNode.insertBefore(button, pre);
  });
})();
