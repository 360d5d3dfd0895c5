// The hub's one script, served at LOCAL_TIME_PATH from the hub itself (the page's policy allows
// scripts from 'self' only): each <time> gets the viewer's own time zone in its tooltip, and the
// relative ones ("3 min ago", "updated 12 s ago") stay current while the page is open. Without it
// the page shows the relative time it was rendered with and UTC in the tooltip.

export const LOCAL_TIME_PATH = '/assets/local-time.js';

export const LOCAL_TIME_JS = `"use strict";
(function () {
  var abs = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short"
  });
  function rel(ms) {
    var s = Math.round(Math.abs(ms) / 1000);
    var t = s < 60 ? s + " s" : s < 3600 ? Math.round(s / 60) + " min" :
      s < 172800 ? Math.round(s / 3600) + " h" : Math.round(s / 86400) + " days";
    return ms >= -1000 ? t + " ago" : "in " + t;
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) return;
      el.title = abs.format(d);
      if (el.hasAttribute("data-ago")) el.textContent = rel(now - d.getTime());
    });
  }
  tick();
  setInterval(tick, 5000);
})();
`;
