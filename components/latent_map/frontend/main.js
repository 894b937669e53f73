// Latent map: a Plotly WebGL scatter that shows each digit's thumbnail on hover and
// sends selections back to Python.
//
// Plotly's own hover labels hold text only, so the thumbnail is a floating <div> whose
// background is one sprite sheet of every test image, positioned with CSS; hovering
// costs no server round trip. The Streamlit component protocol (API version 1) is
// spoken directly with postMessage, so the component needs no npm build step.
"use strict";

const plot = document.getElementById("plot");
const card = document.getElementById("card");
const thumb = document.getElementById("thumb");
const label = document.getElementById("label");

let sprite = null; // {url, cols, cell_w, cell_h, width, height, scale}
let bound = false;
let seq = 0; // makes every selection a new value, so re-selecting the same points reruns

function send(type, data) {
  window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type: type }, data), "*");
}

function setValue(indices) {
  seq += 1;
  send("streamlit:setComponentValue", {
    value: { indices: indices, seq: Date.now() * 1000 + (seq % 1000) },
    dataType: "json",
  });
}

// Theme colours from the render event; the figure leaves them to us.
function themed(layout, theme) {
  const text = (theme && theme.textColor) || "#31333F";
  const bg = (theme && theme.backgroundColor) || "#FFFFFF";
  const dark = theme && theme.base === "dark";
  const grid = dark ? "rgba(250,250,250,0.12)" : "rgba(49,51,63,0.12)";
  const axis = { gridcolor: grid, zerolinecolor: grid, linecolor: grid, color: text };
  const out = Object.assign({}, layout, {
    paper_bgcolor: bg,
    plot_bgcolor: bg,
    font: Object.assign({}, layout.font || {}, { color: text }),
  });
  out.xaxis = Object.assign({}, layout.xaxis || {}, axis);
  out.yaxis = Object.assign({}, layout.yaxis || {}, axis);
  out.legend = Object.assign({}, layout.legend || {}, { font: { color: text } });
  card.style.background = (theme && theme.secondaryBackgroundColor) || "#F0F2F6";
  card.style.color = text;
  return out;
}

// Traces may name the colour "theme:text"; replace it so overlays read on any background.
function inked(data, theme) {
  const text = (theme && theme.textColor) || "#31333F";
  const primary = (theme && theme.primaryColor) || "#FF4B4B";
  const swap = (c) => (c === "theme:text" ? text : c === "theme:primary" ? primary : c);
  return data.map((t) => {
    const out = Object.assign({}, t);
    if (t.line && t.line.color) out.line = Object.assign({}, t.line, { color: swap(t.line.color) });
    if (t.marker && t.marker.line && t.marker.line.color) {
      const line = Object.assign({}, t.marker.line, { color: swap(t.marker.line.color) });
      out.marker = Object.assign({}, t.marker, { line: line });
    }
    return out;
  });
}

function pointIndex(p) {
  const trace = plot.data[p.curveNumber];
  if (!trace || !trace.customdata) return null;
  const i = trace.customdata[p.pointIndex];
  return typeof i === "number" ? i : null;
}

function showCard(p, ev) {
  const i = pointIndex(p);
  if (i === null || !sprite) return;
  const s = sprite.scale;
  const col = i % sprite.cols;
  const row = Math.floor(i / sprite.cols);
  thumb.style.width = sprite.cell_w * s + "px";
  thumb.style.height = sprite.cell_h * s + "px";
  thumb.style.backgroundImage = "url(" + sprite.url + ")";
  thumb.style.backgroundSize = sprite.width * s + "px " + sprite.height * s + "px";
  thumb.style.backgroundPosition =
    -col * sprite.cell_w * s + "px " + -row * sprite.cell_h * s + "px";
  label.textContent = "#" + i + " · " + (plot.data[p.curveNumber].name || "");
  card.style.display = "block";
  // Keep the card beside the pointer and inside the frame.
  const x = ev && ev.clientX !== undefined ? ev.clientX : window.innerWidth / 2;
  const y = ev && ev.clientY !== undefined ? ev.clientY : window.innerHeight / 2;
  const w = card.offsetWidth;
  const h = card.offsetHeight;
  card.style.left = (x + 16 + w > window.innerWidth ? x - 16 - w : x + 16) + "px";
  card.style.top = Math.max(0, Math.min(y - h / 2, window.innerHeight - h)) + "px";
}

function bind() {
  plot.on("plotly_hover", (ev) => {
    if (ev && ev.points && ev.points.length) showCard(ev.points[0], ev.event);
  });
  plot.on("plotly_unhover", () => {
    card.style.display = "none";
  });
  plot.on("plotly_click", (ev) => {
    const i = ev && ev.points && ev.points.length ? pointIndex(ev.points[0]) : null;
    if (i !== null) setValue([i]);
  });
  plot.on("plotly_selected", (ev) => {
    if (!ev || !ev.points) return; // a click in select mode also fires this with no points
    const seen = new Set();
    for (const p of ev.points) {
      const i = pointIndex(p);
      if (i !== null) seen.add(i);
    }
    setValue(Array.from(seen).sort((a, b) => a - b));
  });
  plot.on("plotly_deselect", () => setValue([]));
  plot.addEventListener("mouseleave", () => {
    card.style.display = "none";
  });
}

function render(args, theme) {
  const fig = args.figure;
  const height = args.height || 600;
  sprite = args.sprite ? Object.assign({ scale: 3 }, args.sprite) : null;
  const layout = themed(Object.assign({}, fig.layout, { height: height, autosize: true }), theme);
  // Plotly.react keeps zoom, legend toggles and selections while uirevision is unchanged.
  Plotly.react(plot, inked(fig.data, theme), layout, {
    responsive: true,
    displaylogo: false,
    scrollZoom: true,
    modeBarButtonsToRemove: ["toImage"],
  });
  if (!bound) {
    bind();
    bound = true;
  }
  send("streamlit:setFrameHeight", { height: height });
}

window.addEventListener("message", (event) => {
  const msg = event.data;
  if (msg && msg.type === "streamlit:render") render(msg.args, msg.theme);
});
send("streamlit:componentReady", { apiVersion: 1 });
