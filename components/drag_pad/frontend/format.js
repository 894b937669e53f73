// Numbers as the pad prints them: a true minus sign, and densities in scientific notation.
export const minus = (s) => s.replace("-", "\u2212");
export const fmt2 = (v) => minus((Math.abs(v) < 0.005 ? 0 : v).toFixed(2));

// HTML: 0.0123, or 1.23×10⁻⁵ with a real superscript.
export function fmtDensity(p) {
  if (p >= 0.001) return p.toPrecision(3);
  const [m, e] = p.toExponential(2).split("e");
  return m + "\u00d710<sup>" + minus(String(Number(e))) + "</sup>";
}
