// Shared helpers of the studio page: JSON requests, URL state, colors, byte-packed grids.
"use strict";
const studio = window.studio = {};

studio.api = async function (path, body) {
  const opts = body === undefined ? {} : {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  const res = await fetch(path, opts);
  let data;
  try { data = await res.json(); } catch (e) { data = {error: "bad response (" + res.status + ")"}; }
  if (!res.ok) { const err = new Error(data.error || ("HTTP " + res.status)); err.status = res.status; throw err; }
  return data;
};

studio.params = () => new URLSearchParams(location.search);

studio.setParams = function (values) {
  const p = studio.params();
  for (const [k, v] of Object.entries(values)) p.set(k, Array.isArray(v) ? v.join(",") : String(v));
  history.replaceState(null, "", "?" + p.toString());
};

studio.unpack = function (b64) {  // base64 bytes -> Uint8Array
  const s = atob(b64), out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
};

// TF Playground's colors: orange for -1, white for 0, blue for +1.
const NEG = [245, 147, 34], POS = [8, 119, 189], WHITE = [255, 255, 255];
studio.color = function (v) {  // v in [-1, 1]
  const t = Math.max(-1, Math.min(1, v)), c = t < 0 ? NEG : POS, a = Math.abs(t);
  return [0, 1, 2].map(i => Math.round(WHITE[i] + (c[i] - WHITE[i]) * a));
};

// Draw a k x k grid of bytes onto a canvas: diverging colors (signed) or gray (0..1).
studio.drawGrid = function (canvas, bytes, k, signed) {
  const off = document.createElement("canvas");
  off.width = k; off.height = k;
  const ctx = off.getContext("2d"), img = ctx.createImageData(k, k);
  for (let i = 0; i < k * k; i++) {
    const b = bytes[i];
    const rgb = signed ? studio.color(b / 255 * 2 - 1) : [b, b, b];
    img.data[4 * i] = rgb[0]; img.data[4 * i + 1] = rgb[1]; img.data[4 * i + 2] = rgb[2]; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  const c = canvas.getContext("2d");
  c.imageSmoothingEnabled = signed;
  c.drawImage(off, 0, 0, canvas.width, canvas.height);
};

studio.el = function (tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
};

studio.fmt = function (v) {
  if (typeof v === "number") return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : (+v.toPrecision(4)).toString();
  if (Array.isArray(v)) return "[" + v.slice(0, 12).map(studio.fmt).join(", ") + (v.length > 12 ? ", ..." : "") + "]";
  if (v && typeof v === "object") return JSON.stringify(v);
  return String(v);
};
