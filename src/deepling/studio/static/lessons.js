// Lessons: every claim of the course, its options as a form, a run, its figure, numbers and verdict.
"use strict";
studio.lessons = (function () {
  const $ = id => document.getElementById(id);
  const api = {last: null};
  let lessons = [];

  function input(o) {
    const id = "ls-opt-" + o.name;
    if (o.kind === "bool") { const e = studio.el("input", {id, type: "checkbox", name: o.name}); e.checked = o.default; return e; }
    if (o.kind === "int" || o.kind === "float") return studio.el("input", {id, type: "number", name: o.name, value: String(o.default), step: o.kind === "int" ? "1" : "any"});
    if (o.kind === "optional-int") return studio.el("input", {id, type: "number", name: o.name, placeholder: "default", step: "1"});
    if (o.kind === "list") return studio.el("input", {id, type: "text", name: o.name, value: o.default.join(", ")});
    if (o.kind === "str") return studio.el("input", {id, type: "text", name: o.name, value: o.default});
    const e = studio.el("input", {id, type: "text", name: o.name, value: String(o.default)}); e.disabled = true; return e;
  }

  function read(lesson) {  // the options the user changed, typed like their defaults
    const out = {};
    for (const o of lesson.options) {
      const e = document.getElementById("ls-opt-" + o.name);
      if (!e || e.disabled) continue;
      let v;
      if (o.kind === "bool") v = e.checked;
      else if (o.kind === "int" || o.kind === "optional-int") { if (e.value === "") continue; v = Number(e.value); }
      else if (o.kind === "float") v = Number(e.value);
      else if (o.kind === "list") v = e.value.split(",").map(s => s.trim()).filter(Boolean).map(Number);
      else v = e.value;
      if (JSON.stringify(v) !== JSON.stringify(o.default)) out[o.name] = v;
    }
    return out;
  }

  function verdictBox(v) {
    if (v === null || v === undefined) return studio.el("span", {class: "verdict none", text: "verdict: not stated by this lesson yet (see the numbers)"});
    let held = v, text = "";
    if (typeof v === "object") {
      held = v.held !== undefined ? v.held : v.holds;
      text = v.message || v.reason || (Array.isArray(v.evidence) ? v.evidence.map(e => (e.holds ? "ok: " : "FAILS: ") + e.check).join("; ") : "");
    }
    if (typeof v === "string") return studio.el("span", {class: "verdict none", text: "verdict: " + v});
    return studio.el("span", {class: "verdict " + (held ? "held" : "failed"), text: (held ? "the claim held" : "the claim did NOT hold") + (text ? ": " + text : "")});
  }

  function select(name) {
    const lesson = lessons.find(l => l.name === name);
    if (!lesson) return;
    for (const li of document.querySelectorAll("#ls-list li")) li.classList.toggle("selected", li.dataset.name === name);
    studio.setParams({view: "lessons", lesson: name});
    const d = $("ls-detail");
    d.innerHTML = "";
    d.append(studio.el("h2", {text: name}), studio.el("div", {class: "doc", text: lesson.doc}));
    const form = studio.el("form", {id: "ls-form"});
    for (const o of lesson.options) form.append(studio.el("label", {for: "ls-opt-" + o.name, text: o.name}), input(o));
    const run = studio.el("button", {id: "ls-run", class: "primary", type: "submit", text: "run"});
    const result = studio.el("div", {id: "ls-result"});
    form.addEventListener("submit", async ev => {
      ev.preventDefault();
      run.disabled = true;
      result.innerHTML = "";
      result.append(studio.el("p", {class: "message", text: "running " + name + " on deepling..."}));
      const t0 = performance.now();
      try {
        const r = await studio.api("/api/lessons/run", {name, options: read(lesson)});
        api.last = r;
        result.innerHTML = "";
        result.append(verdictBox(r.verdict), studio.el("p", {class: "message", text: `ran in ${((performance.now() - t0) / 1000).toFixed(1)} s`}));
        const table = studio.el("table", {id: "ls-numbers"});
        for (const [k, v] of Object.entries(r.numbers)) table.append(studio.el("tr", {}, studio.el("td", {text: k}), studio.el("td", {text: studio.fmt(v)})));
        result.append(table);
        if (r.figure) result.append(studio.el("img", {id: "ls-figure", src: r.figure, alt: name + " figure"}));
      } catch (e) {
        result.innerHTML = "";
        result.append(studio.el("p", {class: "message error", text: e.message}));
      }
      run.disabled = false;
    });
    d.append(form, run, result);
    form.append(run);
  }

  async function init() {
    const list = $("ls-list");
    list.append(studio.el("li", {class: "message", text: "loading..."}));
    try { lessons = (await studio.api("/api/lessons")).lessons; } catch (e) { list.innerHTML = ""; list.append(studio.el("li", {class: "message error", text: e.message})); return; }
    list.innerHTML = "";
    for (const l of lessons) {
      const li = studio.el("li", {"data-name": l.name}, studio.el("b", {text: l.name}), studio.el("span", {text: l.claim}));
      li.addEventListener("click", () => select(l.name));
      list.append(li);
    }
    const want = studio.params().get("lesson");
    if (want) select(want);
  }

  api.init = init;
  api.select = select;
  return api;
})();
