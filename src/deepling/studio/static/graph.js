// Graph: an expression or a small model as deepling's autograd graph; step backward node by node.
"use strict";
studio.graph = (function () {
  const $ = id => document.getElementById(id);
  const api = {last: null, step: 0};
  let presets = null, data = null, stepIndex = 0;

  function message(t, isError) { const m = $("gr-message"); m.textContent = t || ""; m.classList.toggle("error", !!isError); }

  function summaryText(s) {
    if (!s) return "-";
    if (s.values) return s.values.length === 1 ? studio.fmt(s.values[0]) : studio.fmt(s.values);
    if (s.mean === undefined) return "empty";
    return `mean ${studio.fmt(s.mean)}, sd ${studio.fmt(s.std)}, min ${studio.fmt(s.min)}, max ${studio.fmt(s.max)}`;
  }

  function nodeEl(id) { return $("gr-canvas").querySelector(`.dl-node[data-id="${id}"]`); }

  function expand(id) {
    const n = data.graph.nodes[id];
    for (const e of $("gr-canvas").querySelectorAll(".dl-node.selected")) e.classList.remove("selected");
    nodeEl(id).classList.add("selected");
    const shown = nodeEl(id).classList.contains("done") || !$("gr-canvas").classList.contains("hide-grads");
    const rows = [["node", `#${n.id} ${n.kind === "op" ? n.op : (n.name || n.kind)}`], ["kind", n.kind], ["shape", "(" + n.shape.join(", ") + ")"],
      ["dtype", n.dtype], ["requires grad", String(n.requires_grad)], ["value", summaryText(n.value)],
      ["gradient", shown ? summaryText(n.grad) : "(not reached by the backward steps yet)"],
      ["inputs", n.inputs.map(i => "#" + i + " " + (data.graph.nodes[i].name || data.graph.nodes[i].op)).join(", ") || "none (a leaf)"]];
    const t = studio.el("table", {id: "gr-node-table"});
    for (const [k, v] of rows) t.append(studio.el("tr", {}, studio.el("td", {text: k}), studio.el("td", {text: v})));
    $("gr-node").innerHTML = "";
    $("gr-node").append(t);
  }

  function resetSteps() {
    stepIndex = 0; api.step = 0;
    const c = $("gr-canvas");
    c.classList.add("hide-grads");
    for (const e of c.querySelectorAll(".dl-node")) e.classList.remove("done", "current");
    for (const e of c.querySelectorAll(".dl-edge")) e.classList.remove("flow");
    $("gr-steptext").textContent = 'Press "step backward": each step fills one node\'s gradient from its users.';
    $("gr-step").disabled = false;
  }

  function step() {
    if (!data || stepIndex >= data.steps.length) return;
    const s = data.steps[stepIndex], c = $("gr-canvas");
    for (const e of c.querySelectorAll(".dl-node.current")) e.classList.remove("current");
    for (const e of c.querySelectorAll(".dl-edge.flow")) e.classList.remove("flow");
    const el = nodeEl(s.node);
    el.classList.add("done", "current");
    for (const u of s.from) { const e = c.querySelector(`.dl-edge[data-from="${s.node}"][data-to="${u}"]`); if (e) e.classList.add("flow"); }
    const n = data.graph.nodes[s.node];
    $("gr-steptext").textContent = `step ${stepIndex + 1}/${data.steps.length}: ${s.text}\n= ${summaryText(n.grad)}`;
    stepIndex += 1; api.step = stepIndex;
    expand(s.node);
    if (stepIndex >= data.steps.length) $("gr-step").disabled = true;
  }

  async function build() {
    const which = $("gr-preset").value;
    let body;
    if (which.startsWith("model:")) body = {model: which.slice(6)};
    else {
      let inputs;
      try { inputs = JSON.parse($("gr-inputs").value || "{}"); } catch (e) { message("inputs must be JSON, e.g. {\"x\": [1, 2], \"w\": 0.5}", true); return; }
      body = {expression: $("gr-expression").value, inputs};
    }
    try {
      data = await studio.api("/api/graph", body);
    } catch (e) { message(e.message, true); return; }
    api.last = data;
    message(`${data.graph.nodes.length} nodes; output: ${data.title}`);
    $("gr-canvas").innerHTML = data.svg;
    for (const g of $("gr-canvas").querySelectorAll(".dl-node")) g.addEventListener("click", () => expand(Number(g.dataset.id)));
    $("gr-summary").textContent = data.summary || "";
    $("gr-node").textContent = "Click a node to expand it.";
    resetSteps();
  }

  function usePreset() {
    const which = $("gr-preset").value, isModel = which.startsWith("model:");
    $("gr-expression").disabled = $("gr-inputs").disabled = isModel;
    if (!isModel && presets.presets[which]) {
      $("gr-expression").value = presets.presets[which].expression;
      $("gr-inputs").value = JSON.stringify(presets.presets[which].inputs);
    }
    studio.setParams({view: "graph", example: which});
    build();
  }

  async function init() {
    presets = await studio.api("/api/graph");
    const sel = $("gr-preset");
    for (const name of Object.keys(presets.presets)) sel.append(studio.el("option", {value: name, text: "expression: " + name}));
    for (const m of presets.models) sel.append(studio.el("option", {value: "model:" + m, text: "model: " + m}));
    const want = studio.params().get("example");
    if (want && [...sel.options].some(o => o.value === want)) sel.value = want;
    sel.addEventListener("change", usePreset);
    $("gr-build").addEventListener("click", build);
    $("gr-step").addEventListener("click", step);
    $("gr-reset-steps").addEventListener("click", resetSteps);
    usePreset();
  }

  api.init = init;
  return api;
})();
