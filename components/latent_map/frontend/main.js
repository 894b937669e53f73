// Latent map: a Plotly WebGL scatter that shows each digit's thumbnail on hover and
// sends selections back to Python. Hovering costs no server round trip (card.js).
import { hideCard, showCard, styleCard } from "./card.js";
import { setComponentValue, setFrameHeight, start } from "./protocol.js";
import { inked, themed } from "./theme.js";

const plot = document.getElementById("plot");
// A finger on a touch screen must scroll the page: a lasso or a pan would hold every
// swipe that starts on the map. There a tap selects a point and the map does not drag.
const touchFirst = window.matchMedia("(hover: none) and (pointer: coarse)").matches;
const VIEWPORT_MARGIN = 16; // px kept free below the map when it fills the window

// `fill`: the map as tall as the browser window allows below the frame's top (the frame
// is served from the app's origin); from another origin, the height Python asked for.
function frameHeight(args) {
  const asked = args.height || 600;
  if (!args.fill) return asked;
  try {
    const top = Math.max(0, window.frameElement.getBoundingClientRect().top);
    return Math.max(320, Math.floor(window.parent.innerHeight - top - VIEWPORT_MARGIN));
  } catch (err) {
    return asked;
  }
}

const state = {
  sprite: null, // {url, cols, cell_w, cell_h, width, height, scale}
  bound: false,
  seq: 0, // makes every selection a new value, so re-selecting the same points reruns
};

function setValue(indices) {
  state.seq += 1;
  setComponentValue({ indices: indices, seq: Date.now() * 1000 + (state.seq % 1000) });
}

// The test-set index a Plotly point stands for, from its trace's customdata.
function pointIndex(p) {
  const trace = plot.data[p.curveNumber];
  if (!trace || !trace.customdata) return null;
  const i = trace.customdata[p.pointIndex];
  return typeof i === "number" ? i : null;
}

function bind() {
  plot.on("plotly_hover", (ev) => {
    if (!ev || !ev.points || !ev.points.length) return;
    const p = ev.points[0];
    const i = pointIndex(p);
    if (i !== null && state.sprite) {
      showCard(i, plot.data[p.curveNumber].name || "", state.sprite, ev.event);
    }
  });
  plot.on("plotly_unhover", hideCard);
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
  plot.addEventListener("mouseleave", hideCard);
}

function render(args, theme) {
  const fig = args.figure;
  const height = frameHeight(args);
  state.sprite = args.sprite ? Object.assign({ scale: 3 }, args.sprite) : null;
  const own = { height: height, autosize: true };
  if (touchFirst) own.dragmode = false;
  const layout = themed(Object.assign({}, fig.layout, own), theme);
  styleCard(theme);
  // Plotly.react keeps zoom, legend toggles and selections while uirevision is unchanged.
  Plotly.react(plot, inked(fig.data, theme), layout, {
    responsive: true,
    displaylogo: false,
    scrollZoom: false, // the wheel scrolls the page; the toolbar zooms
    modeBarButtonsToRemove: ["toImage"],
  });
  if (!state.bound) {
    bind();
    state.bound = true;
  }
  setFrameHeight(height);
}

start(render);
