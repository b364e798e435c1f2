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
  form.addEventListener("submit", function () {
    var b = form.querySelector("button[type=submit]");
    setTimeout(function () { b.disabled = true; b.textContent = "正在提交…"; }, 0);
  });
})();
