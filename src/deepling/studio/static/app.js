// The page's router: ?view=playground|digits|lessons|graph shows one view (each starts on first show).
"use strict";
(function () {
  const views = {playground: studio.playground, digits: studio.digits, lessons: studio.lessons, graph: studio.graph};
  const started = {};
  function show(name) {
    if (!views[name]) name = "playground";
    for (const key of Object.keys(views)) document.getElementById("view-" + key).hidden = key !== name;
    for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.view === name);
    if (!started[name]) { started[name] = true; views[name].init(); }
    if (views[name].shown) views[name].shown();
    document.body.dataset.view = name;
  }
  for (const a of document.querySelectorAll("#nav a")) {
    a.addEventListener("click", ev => {
      ev.preventDefault();
      const keep = a.dataset.view === "playground" ? studio.params() : new URLSearchParams();
      keep.set("view", a.dataset.view);
      history.pushState(null, "", "?" + keep.toString());
      show(a.dataset.view);
    });
  }
  window.addEventListener("popstate", () => show(studio.params().get("view")));
  show(studio.params().get("view") || "playground");
})();
