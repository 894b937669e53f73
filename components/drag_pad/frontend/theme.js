// The app's theme from the render event, as canvas colours and the page's CSS variables.
function themeColors(theme) {
  const dark = theme.base === "dark";
  return {
    dark: dark,
    bg: theme.backgroundColor || (dark ? "#0e1117" : "#ffffff"),
    text: theme.textColor || (dark ? "#fafafa" : "#31333f"),
    panel: theme.secondaryBackgroundColor || (dark ? "#262730" : "#f0f2f6"),
    primary: theme.primaryColor || "#ff4b4b",
  };
}

export function withAlpha(color, alpha) {
  // Accepts #rgb, #rrggbb or rgb(...); canvas has no colour-mix, so parse it.
  const c = color.trim();
  let r, g, b;
  if (c[0] === "#") {
    const h = c.length === 4 ? c.replace(/#(.)(.)(.)/, "#$1$1$2$2$3$3") : c;
    r = parseInt(h.slice(1, 3), 16);
    g = parseInt(h.slice(3, 5), 16);
    b = parseInt(h.slice(5, 7), 16);
  } else {
    const m = c.match(/[\d.]+/g);
    if (!m) return c;
    [r, g, b] = m.map(Number);
  }
  return "rgba(" + r + "," + g + "," + b + "," + alpha + ")";
}

// Sets state.colors, parsed here once per theme so no move parses a colour.
export function applyTheme(state) {
  const c = themeColors(state.theme);
  state.colors = Object.assign({ radius: withAlpha(c.text, 0.35) }, c);
  const root = document.documentElement.style;
  root.setProperty("--bg", c.bg);
  root.setProperty("--text", c.text);
  root.setProperty("--panel", c.panel);
  root.setProperty("--primary", c.primary);
  root.setProperty("--muted", withAlpha(c.text, 0.68));
}
