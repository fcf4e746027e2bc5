// Digit pad: draw on a 28x28 grid (shown 10x); deepling's CNN answers as you draw.
"use strict";
studio.digits = (function () {
  const $ = id => document.getElementById(id);
  const api = {last: null, predictions: 0};
  let drawing = false, lastPoint = null, pending = false, again = false, ready = false, dirty = false;

  function status(text, isError) { const s = $("dg-status"); s.textContent = text; s.classList.toggle("error", !!isError); }

  async function poll() {
    try {
      const st = await studio.api("/api/digits/status");
      if (st.state === "ready") {
        ready = true;
        const acc = st.val_accuracy !== undefined ? `, validation accuracy ${(st.val_accuracy * 100).toFixed(1)}%` : "";
        status(`CNN trained on ${st.source} (${st.images} images${acc}${st.cached ? ", from the cache" : ""})`);
        if (dirty) predict();
        return;
      }
      if (st.state === "error") { status("the digit model failed: " + st.message, true); return; }
      status(`training the CNN on ${st.source || "the data"}: ${Math.round(st.progress * 100)}%`);
    } catch (e) { status(e.message, true); }
    setTimeout(poll, 700);
  }

  function pixels() {  // the pad scaled down to 28x28, values in [0, 1]
    const small = document.createElement("canvas");
    small.width = small.height = 28;
    const ctx = small.getContext("2d");
    ctx.drawImage($("dg-pad"), 0, 0, 28, 28);
    const d = ctx.getImageData(0, 0, 28, 28).data, out = [];
    for (let i = 0; i < 784; i++) out.push(+(d[4 * i] / 255).toFixed(3));
    return out;
  }

  async function predict() {
    if (!ready) { dirty = true; return; }
    if (pending) { again = true; return; }
    pending = true;
    try {
      const r = await studio.api("/api/digits/predict", {pixels: pixels()});
      api.last = r; api.predictions += 1;
      show(r);
    } catch (e) { status(e.message, true); }
    pending = false;
    if (again) { again = false; predict(); }
  }

  function show(r) {
    $("dg-top").textContent = String(r.top);
    const box = $("dg-probs");
    box.innerHTML = "";
    r.probs.forEach((p, k) => {
      const bar = studio.el("div", {class: "bar"}), fill = studio.el("i", {style: `width:${(p * 100).toFixed(1)}%`});
      bar.append(fill);
      const cls = k === r.top ? "top" : "";
      box.append(studio.el("span", {class: cls, text: String(k)}), bar, studio.el("span", {class: cls, text: (p * 100).toFixed(1) + "%"}));
    });
    studio.drawGrid($("dg-input"), studio.unpack(r.input), r.side, false);
    studio.drawGrid($("dg-saliency"), studio.unpack(r.saliency), r.side, false);
    const maps = $("dg-maps");
    if (maps.children.length !== r.maps.length) {
      maps.innerHTML = "";
      r.maps.forEach((_, i) => maps.append(studio.el("canvas", {width: 76, height: 76, title: `channel ${i}`})));
    }
    r.maps.forEach((m, i) => studio.drawGrid(maps.children[i], studio.unpack(m), r.side, false));
  }

  function clear() {
    const ctx = $("dg-pad").getContext("2d");
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, 280, 280);
    $("dg-top").textContent = ""; $("dg-probs").innerHTML = ""; dirty = false;
  }

  function point(ev) { const r = $("dg-pad").getBoundingClientRect(); return [ev.clientX - r.left, ev.clientY - r.top]; }

  function stroke(a, b) {
    const ctx = $("dg-pad").getContext("2d");
    ctx.strokeStyle = "#fff"; ctx.lineWidth = 20; ctx.lineCap = "round"; ctx.lineJoin = "round";
    ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
  }

  function init() {
    const pad = $("dg-pad");
    clear();
    pad.addEventListener("pointerdown", ev => { drawing = true; lastPoint = point(ev); stroke(lastPoint, lastPoint); pad.setPointerCapture(ev.pointerId); });
    pad.addEventListener("pointermove", ev => { if (!drawing) return; const p = point(ev); stroke(lastPoint, p); lastPoint = p; dirty = true; predict(); });
    const end = () => { if (drawing) { drawing = false; dirty = true; predict(); } };
    pad.addEventListener("pointerup", end);
    pad.addEventListener("pointercancel", end);
    $("dg-clear").addEventListener("click", clear);
    status("starting...");
    poll();
  }

  api.init = init;
  api.isReady = () => ready;
  return api;
})();
