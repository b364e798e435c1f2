// Meetings: keep the big screen and residents' phones up to date, and let a phone vote
// without reloading the page. Phones hear of a change pushed by the server (EventSource)
// where it offers that, and otherwise poll the state (an ETag makes an unchanged state a
// tiny 304). The pages work without this script: the big screen refreshes itself, a phone
// has a link to look again, and its vote is a plain form.
(function () {
  var root = document.getElementById("live");
  if (!root || !window.fetch) return;
  var url = root.getAttribute("data-state-url"), wait = +root.getAttribute("data-poll-ms") || 2000;
  var version = root.getAttribute("data-version"), mode = root.getAttribute("data-mode");
  var events = root.getAttribute("data-events-url"), pushed = false;

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
    // Reload only when what this phone can do changes: another question, or voting opened or
    // closed. A pushed change reaches every phone in the courtyard at once, so each waits a
    // moment of its own before reloading.
    var q = s.question, id = q ? String(q.id) : "", open = q && q.open ? "yes" : "no";
    if (s.ended || id !== root.getAttribute("data-question") || open !== root.getAttribute("data-open")) {
      setTimeout(function () { location.reload(); }, pushed ? Math.random() * 1500 : 0);
    }
  }

  function take(s) {
    if (s && s.version !== version) { version = s.version; (mode === "screen" ? drawScreen : drawPhone)(s); }
  }

  var asked = 0;

  function next() {
    // The screen asks every second, counted from its last question, however long the answer
    // took. Phones spread their polls out (±25 %) so a courtyard of them does not ask all at
    // once, and stop asking while the page is hidden; they ask at once when it shows again.
    if (mode === "screen") { setTimeout(poll, Math.max(0, asked + wait - Date.now())); return; }
    if (document.hidden) { document.addEventListener("visibilitychange", poll, {once: true}); return; }
    setTimeout(poll, wait * (0.75 + Math.random() * 0.5));
  }

  function poll() {
    asked = Date.now();
    fetch(url, {headers: {"If-None-Match": '"' + version + '"'}, cache: "no-store", credentials: "same-origin"})
      .then(function (r) { return r.status === 200 ? r.json() : null; })
      .then(take)
      .catch(function () {})
      .then(next);
  }

  function listen() {
    // The server closes the stream now and then and EventSource reconnects by itself. A 204
    // (push not offered here) or an error status closes it for good: poll instead.
    var source = new EventSource(events), failures = 0;
    source.onmessage = function (e) {
      var s;
      pushed = true; failures = 0;
      try { s = JSON.parse(e.data); } catch (err) { return; /* a torn message: the next one will do */ }
      if (s.ended) source.close();  // nothing more will come
      take(s);
    };
    source.onerror = function () {
      failures += 1;
      if (source.readyState === 2 || failures >= 3) { source.close(); pushed = false; next(); }
    };
  }

  // -- a phone's vote: one small request, the answer shown in place --------------------------
  var form = mode === "phone" && document.querySelector("form.vote"), said = document.getElementById("vote-said");

  function say(words, good) {
    said.textContent = words;
    said.className = good ? "thanks" : "notice";
    said.hidden = false;
  }

  function vote(e) {
    e.preventDefault();
    var button = this, data = new FormData(form), buttons = form.querySelectorAll("button");
    data.append("option", button.value);  // FormData leaves out the button pressed
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;  // a double tap sends one vote
    say("正在提交……", true);
    fetch(form.getAttribute("data-vote-url"), {method: "POST", body: data, credentials: "same-origin",
                                               headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json().then(function (b) { return [r.status, b]; }); })
      .then(function (answer) {
        var status = answer[0], b = answer[1], words = b.message || (b.error && b.error.message) || "没有投上，请再点一次。";
        if (status === 200) {
          form.hidden = true;
          say(words + "您投的是：" + button.textContent + "。请看大屏幕，等下一题。", true);
        } else if (b.outcome === "no_such_question") {
          location.reload();
        } else if (b.outcome === "already_voted" || b.outcome === "not_open") {
          form.hidden = true;
          say(words, false);
        } else {
          for (var j = 0; j < buttons.length; j++) buttons[j].disabled = false;
          say(words, false);
        }
      })
      .catch(function () {
        for (var j = 0; j < buttons.length; j++) buttons[j].disabled = false;
        say("网络不好，没有投上，请再点一次。", false);
      });
  }

  if (form && window.FormData && form.getAttribute("data-vote-url")) {
    var buttons = form.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) buttons[i].addEventListener("click", vote);
  }

  if (mode === "phone" && events && window.EventSource) listen(); else next();
})();
