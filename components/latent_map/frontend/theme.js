// The app's theme applied to the Plotly figure, which leaves its colours to us.
export function themed(layout, theme) {
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
  return out;
}

// Traces may name the colour "theme:text"; replace it so overlays read on any background.
export function inked(data, theme) {
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
