// The prior p(z) = N(0, I_J): the one place the pad's JavaScript writes its density.
const LOG_2PI = Math.log(2 * Math.PI);

export function normSq(z) {
  let s = 0;
  for (let i = 0; i < z.length; i++) s += z[i] * z[i];
  return s;
}

// log N(z; 0, I_J) = -(J/2) log 2π - |z|²/2.
export function priorLogDensity(z) {
  return -0.5 * z.length * LOG_2PI - 0.5 * normSq(z);
}

export function priorDensity(z) {
  return Math.exp(priorLogDensity(z));
}
