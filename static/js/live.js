// Meetings: keep the big screen and residents' phones up to date by polling the state
// (an ETag makes an unchanged state a tiny 304). The pages work without this script:
// the big screen refreshes itself, and a phone has a link to look again.
(function () {
  var root = document.getElementById("live");
  if (!root || !window.fetch) return;
  var url = root.getAttribute("data-state-url"), wait = +root.getAttribute("data-poll-ms") || 2000;
  var version = root.getAttribute("data-version"), mode = root.getAttribute("data-mode");

  function drawScreen(s) {
    var q = s.question, bars = document.getElementById("bars");
    if (s.ended || !q || !bars || bars.children.length !== q.options.length
        || document.getElementById("q-text").textContent !== q.text) { location.reload(); return; }
    for (var i = 0; i < q.options.length; i++) {
      var o = q.options[i], li = bars.children[i], n = o.phones + o.hands;
      li.querySelector("progress").max = Math.max(q.total, 1);
      li.querySelector("progress").value = n;
      li.querySelector(".n").textContent = n;
    }
    document.getElementById("q-open").textContent = q.open ? "正在投票" : "投票未开始或已停止";
    var t = "已投 " + q.total + " 票（手机 " + q.phones + " · 举手 " + q.hands + "）";
    if (q.share_voted !== null) t += " · 到场 " + s.attendance + " 人，" + Math.round(q.share_voted * 100) + "% 投了票";
    document.getElementById("totals").textContent = t;
  }

  function drawPhone(s) {
    // Reload only when what this phone can do changes: another question, or voting opened or closed.
    var q = s.question, id = q ? String(q.id) : "", open = q && q.open ? "yes" : "no";
    if (s.ended || id !== root.getAttribute("data-question") || open !== root.getAttribute("data-open")) location.reload();
  }

  function next() {
    // Phones spread their polls out (±25 %) so a courtyard of them does not ask all at once,
    // and stop asking while the page is hidden; they ask at once when it shows again.
    if (mode === "screen") { setTimeout(poll, wait); return; }
    if (document.hidden) { document.addEventListener("visibilitychange", poll, {once: true}); return; }
    setTimeout(poll, wait * (0.75 + Math.random() * 0.5));
  }

  function poll() {
    fetch(url, {headers: {"If-None-Match": '"' + version + '"'}, cache: "no-store", credentials: "same-origin"})
      .then(function (r) { return r.status === 200 ? r.json() : null; })
      .then(function (s) {
        if (s && s.version !== version) { version = s.version; (mode === "screen" ? drawScreen : drawPhone)(s); }
      })
      .catch(function () {})
      .then(next);
  }
  next();
})();
