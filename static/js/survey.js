// Skip logic on the resident's form: hide an item until the answer it depends on is given.
// The form works without this script (every item shown, with a note saying when to answer).
(function () {
  var form = document.getElementById("survey");
  if (!form) return;
  var items = form.querySelectorAll("[data-if]");
  function picked(name) {
    var out = [], els = form.querySelectorAll('[name="' + name + '"]');
    for (var i = 0; i < els.length; i++) if (els[i].checked) out.push(els[i].value);
    return out;
  }
  function update() {
    for (var i = 0; i < items.length; i++) {
      var el = items[i], target = document.getElementById("q-" + el.getAttribute("data-if"));
      var wanted = el.getAttribute("data-in").split(" "), got = picked(el.getAttribute("data-if"));
      var show = !(target && target.hidden) && got.some(function (v) { return wanted.indexOf(v) >= 0; });
      el.hidden = !show;
    }
  }
  form.addEventListener("change", update);
  update();
  // Against double taps, the button rests while a submit is under way; it comes back after
  // 10 s (a slow network: the resident may retry, the server stores one response) and when
  // the page is shown again from the browser's history.
  var button = form.querySelector("button[type=submit]"), label = button.textContent;
  function ready() { button.disabled = false; button.textContent = label; }
  form.addEventListener("submit", function () {
    setTimeout(function () { button.disabled = true; button.textContent = "正在提交…"; }, 0);
    setTimeout(ready, 10000);
  });
  window.addEventListener("pageshow", ready);
})();
