// What each regime level means, as the feature pipeline computes them (features/indicators.py):
// regime_vix is the tercile of a bar's 60-bar realized volatility within its trailing window (about a week),
// regime_gmm a 3-state Gaussian mixture of [return, realized volatility] refitted on past bars only, its states
// numbered by ascending mean volatility. A context symbol's column carries its name as a suffix (regime_vix_QQQ).

const KINDS = [
  {prefix: 'regime_vix', levels: ['low vol', 'normal vol', 'high vol'],
    about: 'tercile of the 60-bar realized volatility within its trailing window (about a week)'},
  {prefix: 'regime_gmm', levels: ['calm', 'middle', 'volatile'],
    about: '3-state Gaussian mixture of return and realized volatility, fitted on earlier bars; states ordered by volatility'},
];

function kindOf(column) {
  return KINDS.find((k) => column === k.prefix || column.startsWith(`${k.prefix}_`)) || null;
}

/** The symbol a regime column is about: its suffix (a context symbol), or the model's primary symbol. */
function symbolOf(column, kind, primary) {
  return column.length > kind.prefix.length ? column.slice(kind.prefix.length + 1) : primary;
}

/** "1 · normal vol" for level "1" of regime_vix; the bare level when the column or level is unknown. */
export function regimeLevelLabel(column, level) {
  const kind = kindOf(column);
  const index = Number(level);
  const name = kind && Number.isInteger(index) ? kind.levels[index] : null;
  return name ? `${level} · ${name}` : `level ${level}`;
}

/** One sentence saying what a regime column's levels are (null for a column this UI does not know). */
export function regimeAbout(column, primary) {
  const kind = kindOf(column);
  if (!kind) return null;
  const levels = kind.levels.map((name, i) => `${i} ${name}`).join(', ');
  return `${column} (${symbolOf(column, kind, primary)}): ${kind.about}. Levels: ${levels}.`;
}
