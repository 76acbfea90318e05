// Client-side search over window.SEARCH_INDEX (loaded from search-index.js, so it also works
// on file:// pages). Every word typed must appear in an entry's title, kind or text.
(function () {
  "use strict";
  var input = document.getElementById("search");
  var list = document.getElementById("search-results");
  var index = window.SEARCH_INDEX || [];
  var root = document.body.getAttribute("data-root") || "";
  if (!input || !list) { return; }

  function matches(entry, words) {
    var hay = (entry.title + " " + entry.kind + " " + entry.text).toLowerCase();
    for (var i = 0; i < words.length; i++) {
      if (hay.indexOf(words[i]) < 0) { return false; }
    }
    return true;
  }

  function score(entry, words) {
    var title = entry.title.toLowerCase();
    var s = 0;
    for (var i = 0; i < words.length; i++) {
      if (title.indexOf(words[i]) >= 0) { s += 2; }
      if (title === words[i] || title.endsWith("." + words[i])) { s += 3; }
    }
    return s;
  }

  function render() {
    var words = input.value.toLowerCase().split(/\s+/).filter(function (w) { return w.length > 0; });
    list.textContent = "";
    if (words.length === 0) { list.hidden = true; return; }
    var hits = index.filter(function (e) { return matches(e, words); });
    hits.sort(function (a, b) { return score(b, words) - score(a, words) || a.title.localeCompare(b.title); });
    hits.slice(0, 20).forEach(function (e) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = root + e.url;
      a.textContent = e.title;
      var kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = e.kind;
      a.appendChild(kind);
      li.appendChild(a);
      list.appendChild(li);
    });
    if (hits.length === 0) {
      var none = document.createElement("li");
      none.textContent = "No match.";
      none.style.padding = ".3rem .8rem";
      list.appendChild(none);
    }
    list.hidden = false;
  }

  input.addEventListener("input", render);
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") { input.value = ""; render(); }
    if (ev.key === "Enter") {
      var first = list.querySelector("a");
      if (first) { window.location.href = first.href; }
    }
  });
})();
