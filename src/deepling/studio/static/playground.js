// Playground: TensorFlow Playground's controls driving deepling over a WebSocket.
// The whole configuration, seed included, lives in the URL: the same URL replays the same run.
"use strict";
studio.playground = (function () {
  const $ = id => document.getElementById(id);
  const LRS = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
  const RATES = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
  const FEATURE_LABELS = {x1: "x1", x2: "x2", x1sq: "x1²", x2sq: "x2²", x1x2: "x1x2", sinx1: "sin x1", sinx2: "sin x2"};
  let meta = null, config = null, ws = null, playing = false, frame = null, points = null, problem = null;
  let history = [];
  const api = {lastFrame: null, frames: 0};

  function fromUrl(defaults) {
    const p = studio.params(), c = JSON.parse(JSON.stringify(defaults));
    for (const key of Object.keys(defaults)) {
      if (!p.has(key)) continue;
      const v = p.get(key);
      if (key === "features") c.features = v.split(",").filter(Boolean);
      else if (key === "hidden") c.hidden = v.split(",").filter(Boolean).map(Number);
      else if (typeof defaults[key] === "number") c[key] = Number(v);
      else c[key] = v;
    }
    return c;
  }

  function toUrl() {
    const out = {view: "playground"};
    for (const [k, v] of Object.entries(config)) out[k] = v;
    studio.setParams(out);
  }

  function message(text, isError) {
    const m = $("pg-message");
    m.textContent = text || "";
    m.classList.toggle("error", !!isError);
  }

  // ---------------------------------------------------------------- socket
  function connect() {
    return new Promise(resolve => {
      ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/playground");
      ws.onopen = () => resolve();
      ws.onmessage = ev => onMessage(JSON.parse(ev.data));
      ws.onclose = () => { if (playing) setPlaying(false); message("connection to the server closed; reload the page", true); };
    });
  }

  function send(msg) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(msg)); }

  function onMessage(msg) {
    if (msg.type === "error") { message(msg.message, true); return; }
    if (msg.type === "stopped") { setPlaying(false); message(`stopped at epoch ${msg.epoch} (the studio trains at most ${meta.max_epochs} epochs per run)`); return; }
    if (msg.type !== "frame") return;
    if (msg.points) { points = msg.points; problem = msg.problem; history = []; config = msg.config; syncControls(); toUrl(); message(""); }
    frame = msg;
    api.lastFrame = msg;
    api.frames += 1;
    if (msg.train_loss !== null && (!history.length || history[history.length - 1].epoch !== msg.epoch)) history.push({epoch: msg.epoch, train: msg.train_loss, test: msg.test_loss});
    render();
  }

  // ---------------------------------------------------------------- controls
  function options(select, values, fmt) {
    select.innerHTML = "";
    for (const v of values) select.append(studio.el("option", {value: String(v), text: fmt ? fmt(v) : String(v)}));
  }

  function buildControls() {
    options($("pg-lr"), LRS);
    options($("pg-activation"), meta.activations, v => ({relu: "ReLU", tanh: "Tanh", sigmoid: "Sigmoid", linear: "Linear"})[v]);
    options($("pg-reg"), meta.regularization, v => ({none: "None", l1: "L1", l2: "L2"})[v]);
    options($("pg-reg_rate"), RATES);
    const ds = $("pg-datasets");
    for (const name of Object.keys(meta.datasets)) {
      const b = studio.el("button", {"data-dataset": name, title: name});
      const c = studio.el("canvas", {width: 52, height: 52});
      b.append(c);
      drawDatasetIcon(c, name);
      b.addEventListener("click", () => change({dataset: name}));
      ds.append(b);
    }
    const numeric = {lr: Number, reg_rate: Number, seed: Number, ratio: Number, noise: Number, batch: Number, dropout: Number};
    for (const key of ["lr", "activation", "reg", "reg_rate", "seed", "ratio", "noise", "batch", "dropout"]) {
      $("pg-" + key).addEventListener("change", ev => change({[key]: numeric[key] ? numeric[key](ev.target.value) : ev.target.value}));
    }
    for (const key of ["ratio", "noise", "batch", "dropout"]) {
      $("pg-" + key).addEventListener("input", ev => { $("pg-" + key + "-val").textContent = ev.target.value; });
    }
    $("pg-play").addEventListener("click", () => setPlaying(!playing));
    $("pg-step").addEventListener("click", () => { setPlaying(false); send({type: "step"}); });
    $("pg-reset").addEventListener("click", () => { setPlaying(false); send({type: "reset", config}); });
    $("pg-add-layer").addEventListener("click", () => { if (config.hidden.length < meta.max_layers) change({hidden: config.hidden.concat([2])}); });
    $("pg-remove-layer").addEventListener("click", () => { if (config.hidden.length) change({hidden: config.hidden.slice(0, -1)}); });
    $("pg-show-test").addEventListener("change", render);
  }

  function drawDatasetIcon(canvas, name) {  // a sketch of each data set, drawn locally
    const ctx = canvas.getContext("2d"), n = 52;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      const x = (j / n) * 12 - 6, y = 6 - (i / n) * 12, r = Math.hypot(x, y);
      let v;
      if (name === "circle") v = r < 3 ? 1 : -1;
      else if (name === "xor") v = x * y >= 0 ? 1 : -1;
      else if (name === "gauss") v = x + y > 0 ? 1 : -1;
      else if (name === "spiral") v = Math.sin(r * 1.3 - Math.atan2(y, x)) > 0 ? 1 : -1;
      else if (name === "reg-plane") v = (x + y) / 12;
      else v = Math.cos(x * 0.8) * Math.cos(y * 1.2);
      const [R, G, B] = studio.color(v * 0.7);
      ctx.fillStyle = `rgb(${R},${G},${B})`;
      ctx.fillRect(j, i, 1, 1);
    }
  }

  function syncControls() {
    $("pg-lr").value = String(config.lr);
    if ($("pg-lr").value !== String(config.lr)) { $("pg-lr").append(studio.el("option", {value: String(config.lr), text: String(config.lr)})); $("pg-lr").value = String(config.lr); }
    $("pg-activation").value = config.activation;
    $("pg-reg").value = config.reg;
    $("pg-reg_rate").value = String(config.reg_rate);
    if ($("pg-reg_rate").value !== String(config.reg_rate)) { $("pg-reg_rate").append(studio.el("option", {value: String(config.reg_rate), text: String(config.reg_rate)})); $("pg-reg_rate").value = String(config.reg_rate); }
    $("pg-seed").value = config.seed;
    for (const key of ["ratio", "noise", "batch", "dropout"]) { $("pg-" + key).value = config[key]; $("pg-" + key + "-val").textContent = config[key]; }
    for (const b of document.querySelectorAll("#pg-datasets button")) b.classList.toggle("selected", b.dataset.dataset === config.dataset);
    $("pg-problem").textContent = problem === "regression" ? "regression" : "classification";
    $("pg-layers-label").textContent = `${config.hidden.length} hidden layer${config.hidden.length === 1 ? "" : "s"}`;
  }

  function change(values) {
    const wasPlaying = playing;
    setPlaying(false);
    Object.assign(config, values);
    toUrl();
    send({type: "config", config});
    if (wasPlaying) setPlaying(true);
  }

  function setPlaying(on) {
    if (on === playing) return;
    playing = on;
    $("pg-play").innerHTML = on ? "&#10074;&#10074; pause" : "&#9654; play";
    send({type: on ? "play" : "pause"});
  }

  // ---------------------------------------------------------------- drawing
  function render() {
    if (!frame || !points) return;
    $("pg-epoch").textContent = String(frame.epoch).padStart(3, "0");
    $("pg-train-loss").textContent = frame.train_loss === null ? "diverged" : frame.train_loss.toFixed(3);
    $("pg-test-loss").textContent = frame.test_loss === null ? "diverged" : frame.test_loss.toFixed(3);
    if (frame.diverged) message("the loss diverged (try a smaller learning rate); reset to start again", true);
    drawBoundary();
    drawLoss();
    drawNetwork();
  }

  let hovered = null;  // [layer, unit] under the mouse: the big heat map shows that unit instead

  function drawBoundary() {
    const canvas = $("pg-boundary"), ctx = canvas.getContext("2d");
    if (hovered && frame.units[hovered[0]] && frame.units[hovered[0]][hovered[1]]) {
      studio.drawGrid(canvas, studio.unpack(frame.units[hovered[0]][hovered[1]]), frame.thumb, true);
    } else studio.drawGrid(canvas, studio.unpack(frame.boundary), frame.grid, true);
    const s = canvas.width / (2 * meta.extent);
    const sets = [["train", "#fff"]];
    if ($("pg-show-test").checked) sets.push(["test", "#000"]);
    for (const [name, stroke] of sets) {
      const xs = points[name], ys = points[name + "_y"];
      for (let i = 0; i < xs.length; i++) {
        const [R, G, B] = studio.color(ys[i]);
        ctx.beginPath();
        ctx.arc((xs[i][0] + meta.extent) * s, (meta.extent - xs[i][1]) * s, 3, 0, 2 * Math.PI);
        ctx.fillStyle = `rgb(${R},${G},${B})`;
        ctx.strokeStyle = stroke;
        ctx.fill(); ctx.stroke();
      }
    }
  }

  function drawLoss() {
    const canvas = $("pg-loss"), ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    if (history.length < 1) return;
    const top = Math.max(...history.map(p => Math.max(p.train, p.test)).filter(Number.isFinite), 1e-6);
    const last = history[history.length - 1].epoch || 1;
    for (const [key, color] of [["test", "#888"], ["train", "#222"]]) {
      ctx.beginPath();
      history.forEach((p, i) => {
        const x = (p.epoch / last) * (w - 4) + 2, y = h - 2 - (Math.min(p[key], top) / top) * (h - 4);
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.stroke();
    }
  }

  function hover(cell, layer, unit) {
    cell.addEventListener("mouseenter", () => { hovered = [layer, unit]; drawBoundary(); });
    cell.addEventListener("mouseleave", () => { hovered = null; drawBoundary(); });
  }

  function drawNetwork() {
    const box = $("pg-network");
    box.innerHTML = "";
    const featureNames = Object.keys(FEATURE_LABELS);
    const layers = frame.units;  // [active features, hidden..., output]
    const colW = Math.max(90, Math.min(130, (box.clientWidth || 600) / (layers.length + 0.5)));
    const pos = [];  // pos[layer][unit] = [x, y] centers
    const svgNS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(svgNS, "svg");
    svg.classList.add("edges");
    // features column: every feature shown, the active ones lit and wired
    const fcol = studio.el("div", {class: "pg-layer", style: "left:0px"});
    fcol.append(studio.el("div", {class: "title", text: "features"}));
    const fpos = [];
    let k = 0;
    featureNames.forEach((name, i) => {
      const on = config.features.includes(name);
      const row = studio.el("div", {class: "feature" + (on ? "" : " off"), "data-feature": name, title: "click to turn " + name + (on ? " off" : " on")});
      const cell = studio.el("div", {class: "neuron"});
      const c = studio.el("canvas", {width: 36, height: 36});
      cell.append(c);
      row.append(studio.el("span", {text: FEATURE_LABELS[name]}), cell);
      row.addEventListener("click", () => {
        const next = on ? config.features.filter(f => f !== name) : featureNames.filter(f => f === name || config.features.includes(f));
        if (next.length) change({features: next});
      });
      fcol.append(row);
      if (on) { studio.drawGrid(c, studio.unpack(layers[0][k]), frame.thumb, true); hover(cell, 0, k); fpos[k] = i; k += 1; }
    });
    box.append(fcol);
    const cols = [fcol];
    for (let l = 1; l < layers.length; l++) {
      const isOut = l === layers.length - 1;
      const col = studio.el("div", {class: "pg-layer", style: `left:${l * colW}px`});
      const title = studio.el("div", {class: "title"});
      if (!isOut) {
        const ctl = studio.el("div", {class: "controls"});
        const plus = studio.el("button", {title: "add a neuron", text: "+"}), minus = studio.el("button", {title: "remove a neuron", text: "−"});
        plus.dataset.layer = minus.dataset.layer = String(l - 1);
        plus.classList.add("add-neuron"); minus.classList.add("remove-neuron");
        plus.addEventListener("click", () => { const h = config.hidden.slice(); if (h[l - 1] < meta.max_neurons) { h[l - 1] += 1; change({hidden: h}); } });
        minus.addEventListener("click", () => { const h = config.hidden.slice(); if (h[l - 1] > 1) { h[l - 1] -= 1; change({hidden: h}); } });
        ctl.append(plus, minus);
        title.append(ctl, studio.el("div", {text: `${layers[l].length} neuron${layers[l].length === 1 ? "" : "s"}`}));
      } else title.append(studio.el("div", {text: "output"}));
      col.append(title);
      layers[l].forEach((b64, j) => {
        const cell = studio.el("div", {class: "neuron", title: isOut ? "the output" : `layer ${l}, neuron ${j + 1}: hover to see it full size`});
        const c = studio.el("canvas", {width: 36, height: 36});
        cell.append(c); col.append(cell);
        hover(cell, l, j);
        studio.drawGrid(c, studio.unpack(b64), frame.thumb, true);
      });
      box.append(col);
      cols.push(col);
    }
    // edges from each unit to the next layer, colored by weight sign, width by size
    const bb = box.getBoundingClientRect();
    cols.forEach((col, l) => {
      pos[l] = [];
      const cells = l === 0 ? [...col.querySelectorAll(".feature:not(.off) .neuron")] : [...col.querySelectorAll(".neuron")];
      cells.forEach(cell => { const r = cell.getBoundingClientRect(); pos[l].push([r.left - bb.left, r.top - bb.top + r.height / 2, r.width]); });
    });
    let height = 0;
    for (const col of cols) height = Math.max(height, col.offsetHeight);
    box.style.height = height + 10 + "px";
    svg.setAttribute("width", String(box.clientWidth)); svg.setAttribute("height", String(height + 10));
    frame.weights.forEach((W, l) => {
      W.forEach((row, j) => row.forEach((w, i) => {
        const a = pos[l][i], b = pos[l + 1][j];
        if (!a || !b) return;
        const line = document.createElementNS(svgNS, "path");
        const x1 = a[0] + a[2], y1 = a[1], x2 = b[0], y2 = b[1], mx = (x1 + x2) / 2;
        line.setAttribute("d", `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`);
        line.setAttribute("stroke", w >= 0 ? "#0877bd" : "#f59322");
        line.setAttribute("stroke-width", String(Math.min(6, 0.5 + Math.abs(w) * 1.5)));
        line.setAttribute("fill", "none");
        line.setAttribute("opacity", "0.8");
        line.classList.add("weight");
        line.appendChild(document.createElementNS(svgNS, "title")).textContent = `weight ${w.toFixed(3)}`;
        svg.append(line);
      }));
    });
    box.prepend(svg);
  }

  // ---------------------------------------------------------------- lifecycle
  async function init() {
    meta = await studio.api("/api/playground");
    config = fromUrl(meta.defaults);
    buildControls();
    await connect();
    send({type: "config", config});
  }

  api.init = init;
  api.shown = () => { if (config) toUrl(); };
  api.isPlaying = () => playing;
  api.history = () => history;
  return api;
})();
