// The dashboard, live: re-reads the page's [data-live] parts every 2 s, and tails each job log with ranged reads
// of its signed download link. Text from jobs only ever goes through textContent; page parts come from this
// origin's own server-rendered (escaped) HTML.
"use strict";
(function () {
  var PERIOD = 2000;

  function refreshParts() {
    var live = document.querySelectorAll("[data-live][id]");
    if (!live.length) { return Promise.resolve(); }
    return fetch(window.location.href, {credentials: "same-origin", cache: "no-store"}).then(function (r) {
      if (!r.ok) { return; }
      return r.text().then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        live.forEach(function (el) {
          var fresh = doc.getElementById(el.id);
          if (fresh) { el.replaceWith(document.importNode(fresh, true)); }
        });
      });
    }).catch(function () {});
  }

  function tail(pre) {
    var src = pre.getAttribute("data-src");
    if (!src) { return Promise.resolve(); }
    var offset = parseInt(pre.getAttribute("data-offset") || "0", 10);
    return fetch(src, {headers: {"Range": "bytes=" + offset + "-"}, cache: "no-store"}).then(function (r) {
      if (r.status === 403) { pre.setAttribute("data-src", ""); return; }  // expired: job.json signs anew
      if (r.status !== 206 && r.status !== 200) { return; }
      return r.arrayBuffer().then(function (buf) {
        if (!buf.byteLength) { return; }
        var text = new TextDecoder("utf-8").decode(buf);
        pre.appendChild(document.createTextNode(text));
        pre.setAttribute("data-offset", String(offset + buf.byteLength));
        pre.scrollTop = pre.scrollHeight;
      });
    }).catch(function () {});
  }

  function refreshLogs() {
    var pres = Array.prototype.slice.call(document.querySelectorAll("pre.log[data-job]"));
    if (!pres.length) { return Promise.resolve(); }
    return fetch(pres[0].getAttribute("data-job"), {cache: "no-store"}).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (info) {
      if (info) {
        pres.forEach(function (pre) {
          var link = info.logs[pre.getAttribute("data-log")];
          if (link && !pre.getAttribute("data-src")) { pre.setAttribute("data-src", link); }
        });
      }
      return Promise.all(pres.map(tail));
    }).catch(function () {});
  }

  function loop() {
    Promise.all([refreshParts(), refreshLogs()]).then(function () { setTimeout(loop, PERIOD); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    setTimeout(loop, PERIOD);
  });
})();
