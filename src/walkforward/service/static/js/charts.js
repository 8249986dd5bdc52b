// Tiny inline-SVG charts: vertical bars, horizontal bars, grouped bars, lines (log x) and the fold timeline.

const NS = 'http://www.w3.org/2000/svg';
export const PALETTE = ['#2563eb', '#f97316', '#16a34a', '#9333ea', '#dc2626', '#0891b2', '#ca8a04', '#db2777'];

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}

function svg(width, height, label, testid) {
  return s('svg', {
    viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': label,
    class: 'chart', 'data-testid': testid,
  }, s('title', {}, label));
}

function fmt(v) {
  if (!Number.isFinite(v)) return '-';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a < 1e-3 || a >= 1e5 ? v.toExponential(1) : String(Number(v.toPrecision(3)));
}

/** Linear scale from [d0, d1] to [r0, r1]. */
function scale(d0, d1, r0, r1) {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

function extent(values, includeZero = true) {
  const finite = values.filter(Number.isFinite);
  let lo = Math.min(...finite, includeZero ? 0 : Infinity);
  let hi = Math.max(...finite, includeZero ? 0 : -Infinity);
  if (!finite.length) { lo = 0; hi = 1; }
  if (lo === hi) { lo -= Math.abs(lo) * 0.1 || 1; hi += Math.abs(hi) * 0.1 || 1; }
  return [lo, hi];
}

function legend(items, x, y) {
  return s('g', {class: 'legend', transform: `translate(${x},${y})`}, items.map((it, i) => s('g',
    {transform: `translate(${(i % 4) * 130},${Math.floor(i / 4) * 16})`},
    s('rect', {width: 10, height: 10, y: -9, fill: it.color, class: it.className}),
    s('text', {x: 14}, it.label))));
}

/** Vertical bars, one per label; negative values hang below the zero line; an optional reference line. */
export function barChart({labels, values, label, testid, reference = null, baseline = null, width = 320, height = 170}) {
  const m = {l: 56, r: 8, t: 10, b: 24};
  const el = svg(width, height, label, testid);
  const [lo, hi] = extent([...values, ...[reference, baseline].filter((v) => v !== null)]);
  const y = scale(lo, hi, height - m.b, m.t);
  const band = Math.min((width - m.l - m.r) / Math.max(values.length, 1), 90);
  el.append(s('text', {x: m.l - 6, y: y(hi) + 4, class: 'axis', 'text-anchor': 'end'}, fmt(hi)),
    s('text', {x: m.l - 6, y: y(lo) + 4, class: 'axis', 'text-anchor': 'end'}, fmt(lo)));
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) return;
    const x = m.l + i * band + band * 0.15;
    const top = Math.min(y(v), y(0));
    el.append(s('rect', {x, y: top, width: band * 0.7, height: Math.max(Math.abs(y(v) - y(0)), 1),
      class: v < 0 ? 'bar neg' : 'bar'}, s('title', {}, `${labels[i]}: ${fmt(v)}`)));
    el.append(s('text', {x: x + band * 0.35, y: height - 8, class: 'axis', 'text-anchor': 'middle'}, labels[i]));
  });
  el.append(s('line', {x1: m.l, x2: width - m.r, y1: y(0), y2: y(0), class: 'zero'}));
  if (reference !== null && Number.isFinite(reference)) {
    el.append(s('line', {x1: m.l, x2: width - m.r, y1: y(reference), y2: y(reference), class: 'ref'},
      s('title', {}, `mean ${fmt(reference)}`)));
  }
  if (baseline !== null && Number.isFinite(baseline)) {
    el.append(s('line', {x1: m.l, x2: width - m.r, y1: y(baseline), y2: y(baseline), class: 'baseline'},
      s('title', {}, `chance ${fmt(baseline)}`)),
    s('text', {x: width - m.r, y: y(baseline) - 3, class: 'axis', 'text-anchor': 'end'}, `chance ${fmt(baseline)}`));
  }
  return el;
}

/** Horizontal bars for ranked items [{label, value, cls?, title?, text?}], largest first.
 * ``cls`` replaces a bar's class, ``title`` its tooltip, ``text`` the value printed after it;
 * ``max`` fixes the axis's end (longer bars stop at it); ``reference`` {value, label} draws a marked line. */
export function hbarChart({items, label, testid, width = 640, rowHeight = 18, max = null, reference = null, margins = {}}) {
  const m = {l: 170, r: 70, t: reference ? 14 : 6, b: 6, ...margins};
  const height = m.t + m.b + rowHeight * Math.max(items.length, 1);
  const el = svg(width, height, label, testid);
  let [lo, hi] = extent([...items.map((d) => d.value), ...(reference ? [reference.value] : [])]);
  if (max !== null) hi = max;
  const x = (v) => scale(lo, hi, m.l, width - m.r)(max === null ? v : Math.min(v, max));
  items.forEach((d, i) => {
    const yy = m.t + i * rowHeight;
    const left = Math.min(x(d.value), x(0));
    el.append(
      s('text', {x: m.l - 6, y: yy + rowHeight * 0.7, class: 'axis', 'text-anchor': 'end'}, d.label),
      s('rect', {x: left, y: yy + 2, width: Math.max(Math.abs(x(d.value) - x(0)), 1), height: rowHeight - 5,
        class: d.cls || (d.value < 0 ? 'bar neg' : 'bar')}, s('title', {}, d.title || `${d.label}: ${fmt(d.value)}`)),
      s('text', {x: Math.max(x(d.value), x(0)) + 4, y: yy + rowHeight * 0.7, class: 'axis'}, d.text ?? fmt(d.value)));
  });
  el.append(s('line', {x1: x(0), x2: x(0), y1: m.t, y2: height - m.b, class: 'zero'}));
  if (reference) {
    el.append(s('line', {x1: x(reference.value), x2: x(reference.value), y1: m.t - 4, y2: height - m.b, class: 'ref'}),
      s('text', {x: x(reference.value), y: m.t - 5, class: 'axis', 'text-anchor': 'middle'}, reference.label));
  }
  return el;
}

/** Grouped bars: one group per category, one coloured bar per series in each group, and a legend. */
export function groupedBars({categories, series, label, testid, width = 720, height = 240}) {
  const m = {l: 64, r: 8, t: 10, b: 86};
  const el = svg(width, height + 18 * Math.ceil(series.length / 4), label, testid);
  const [lo, hi] = extent(series.flatMap((sr) => sr.values));
  const y = scale(lo, hi, height - m.b, m.t);
  const group = (width - m.l - m.r) / Math.max(categories.length, 1);
  const bw = (group * 0.8) / Math.max(series.length, 1);
  el.append(s('text', {x: m.l - 6, y: y(hi) + 4, class: 'axis', 'text-anchor': 'end'}, fmt(hi)));
  categories.forEach((cat, ci) => {
    const gx = m.l + ci * group + group * 0.1;
    series.forEach((sr, si) => {
      const v = sr.values[ci];
      if (!Number.isFinite(v)) return;
      el.append(s('rect', {x: gx + si * bw, y: Math.min(y(v), y(0)), width: Math.max(bw - 1, 1),
        height: Math.max(Math.abs(y(v) - y(0)), 1), fill: sr.color, class: 'gbar'},
      s('title', {}, `${sr.name} · ${cat}: ${fmt(v)}`)));
    });
    const tx = gx + group * 0.4;
    el.append(s('text', {x: tx, y: height - m.b + 10, class: 'axis', 'text-anchor': 'end',
      transform: `rotate(-40 ${tx} ${height - m.b + 10})`}, cat));
  });
  el.append(s('line', {x1: m.l, x2: width - m.r, y1: y(0), y2: y(0), class: 'zero'}));
  el.append(legend(series.map((sr) => ({label: sr.name, color: sr.color})), m.l, height - 6));
  return el;
}

/**
 * Lines through points [{x, y}] per series (x on a log axis when logX), with dots and a legend.
 * Options: dots/lines per series ({dots: false} or {line: false} for a scatter; {dashed: true}); xTicks
 * (a number: that many evenly spaced ticks instead of one per distinct x); xFormat/yFormat for tick text;
 * area (fill each line down to zero, for a drawdown); square (equal ranges on both axes, for calibration).
 */
export function lineChart({series, label, testid, xLabel = '', yLabel = '', logX = false, width = 520, height = 260,
  xTicks = null, xFormat = fmt, yFormat = fmt, area = false, includeZero = false, domain = null}) {
  const m = {l: 64, r: 12, t: 12, b: 58};
  const el = svg(width, height, label, testid);
  const tx = (v) => (logX ? Math.log10(v) : v);
  const pts = series.flatMap((sr) => sr.points).filter((p) => Number.isFinite(p.y) && (!logX || p.x > 0));
  const [x0, x1] = domain?.x || extent(pts.map((p) => tx(p.x)), false);
  const [y0, y1] = domain?.y || extent(pts.map((p) => p.y), includeZero);
  const x = scale(x0, x1, m.l + 10, width - m.r - 10);
  const y = scale(y0, y1, height - m.b, m.t);
  const xs = xTicks ? Array.from({length: xTicks}, (_, i) => x0 + ((x1 - x0) * i) / Math.max(xTicks - 1, 1))
    : [...new Set(pts.map((p) => p.x))].sort((a, b) => a - b);
  el.append(s('line', {x1: m.l, x2: width - m.r, y1: height - m.b, y2: height - m.b, class: 'axisline'}),
    s('line', {x1: m.l, x2: m.l, y1: m.t, y2: height - m.b, class: 'axisline'}));
  xs.forEach((v, i) => {
    // Evenly spaced ticks run edge to edge: the outer labels are anchored inwards so they are not clipped.
    const anchor = xTicks && xs.length > 1 && i === 0 ? 'start' : xTicks && xs.length > 1 && i === xs.length - 1 ? 'end' : 'middle';
    el.append(s('text', {x: x(xTicks ? v : tx(v)), y: height - m.b + 14, class: 'axis', 'text-anchor': anchor}, xFormat(v)));
  });
  for (const v of [y0, (y0 + y1) / 2, y1]) {
    el.append(s('text', {x: m.l - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end'}, yFormat(v)));
  }
  if (y0 < 0 && y1 > 0) el.append(s('line', {x1: m.l, x2: width - m.r, y1: y(0), y2: y(0), class: 'zero'}));
  el.append(s('text', {x: (m.l + width) / 2, y: height - m.b + 30, class: 'axis label', 'text-anchor': 'middle'},
    xLabel + (logX ? ' (log scale)' : '')));
  el.append(s('text', {x: 12, y: (m.t + height - m.b) / 2, class: 'axis label', 'text-anchor': 'middle',
    transform: `rotate(-90 12 ${(m.t + height - m.b) / 2})`}, yLabel));
  series.forEach((sr, i) => {
    const color = sr.color || PALETTE[i % PALETTE.length];
    const ok = sr.points.filter((p) => Number.isFinite(p.y) && (!logX || p.x > 0));
    if (sr.line !== false) ok.sort((a, b) => a.x - b.x);
    const d = ok.map((p, j) => `${j ? 'L' : 'M'}${x(tx(p.x)).toFixed(1)},${y(p.y).toFixed(1)}`).join('');
    if (area && ok.length) {
      const base = y(Math.max(Math.min(0, y1), y0)).toFixed(1);
      el.append(s('path', {d: `${d}L${x(tx(ok[ok.length - 1].x)).toFixed(1)},${base}L${x(tx(ok[0].x)).toFixed(1)},${base}Z`,
        fill: color, class: 'series-area', 'data-series': sr.name}));
    }
    if (sr.line !== false) {
      el.append(s('path', {d, stroke: color, class: `series-line${sr.dashed ? ' dashed' : ''}`, 'data-series': sr.name}));
    }
    if (sr.dots === false) return;
    const g = s('g', {class: 'dots', 'data-series': sr.name});
    for (const p of ok) {
      g.append(s('circle', {cx: x(tx(p.x)), cy: y(p.y), r: sr.r ?? 3.5, fill: color, 'fill-opacity': sr.opacity ?? 1},
        s('title', {}, `${sr.name}, ${p.label ?? `x=${xFormat(p.x)}`}: ${yFormat(p.y)}`)));
    }
    el.append(g);
  });
  el.append(legend(series.map((sr, i) => ({label: sr.name, color: sr.color || PALETTE[i % PALETTE.length]})),
    m.l, height - 8));
  return el;
}

/**
 * The folds on one time axis: per fold the embargoed rows (before the train span, after the previous test),
 * the train span, the purged rows (between train and test) and the test span. Purged and embargoed are row
 * counts, drawn as that many bars of barSeconds (at least a few pixels, so they stay visible).
 */
export function foldTimeline({folds, barSeconds = 60, label, testid, width = 1100}) {
  const rowH = 26;
  const m = {l: 58, r: 10, t: 8, b: 52};
  const height = m.t + m.b + rowH * Math.max(folds.length, 1);
  const el = svg(width, height, label, testid);
  const t = (iso) => new Date(iso).getTime();
  const barMs = barSeconds * 1000;
  const times = folds.flatMap((f) => [
    t(f.train_start) - (f.embargoed || 0) * barMs, t(f.test_end), t(f.train_start), t(f.test_start)]);
  const [t0, t1] = extent(times.filter(Number.isFinite), false);
  const x = scale(t0, t1, m.l, width - m.r);
  const minW = 4;
  // alignEnd: a too-short span grows leftwards, so it is not hidden under the span drawn after it.
  const span = (a, b, cls, title, yy, alignEnd = false) => {
    if (!Number.isFinite(a) || !Number.isFinite(b)) return null;
    const w = Math.max(x(b) - x(a), minW);
    const left = alignEnd ? x(b) - w : x(a);
    return s('rect', {x: left, y: yy, width: w, height: rowH - 8, class: `span ${cls}`}, s('title', {}, title));
  };
  folds.forEach((f, i) => {
    const yy = m.t + i * rowH;
    const ts = t(f.train_start);
    const te = t(f.train_end);
    const qs = t(f.test_start);
    const qe = t(f.test_end);
    el.append(s('text', {x: m.l - 8, y: yy + rowH * 0.6, class: 'axis', 'text-anchor': 'end'}, `fold ${f.fold ?? i + 1}`));
    const g = s('g', {class: 'fold', 'data-fold': f.fold ?? i + 1});
    if (f.embargoed) {
      g.append(span(ts - f.embargoed * barMs, ts, 'embargo', `embargoed: ${f.embargoed} rows`, yy, true));
    }
    g.append(span(ts, te, 'train', `train ${f.train_start} → ${f.train_end} (${f.train_rows ?? '-'} rows)`, yy));
    if (f.purged) {
      const end = Math.min(te + f.purged * barMs, qs);
      g.append(span(te, end > te ? end : te + barMs, 'purge', `purged: ${f.purged} rows`, yy));
    }
    g.append(span(qs, qe, 'test', `test ${f.test_start} → ${f.test_end} (${f.test_rows ?? '-'} rows)`, yy));
    el.append(g);
  });
  const axisY = m.t + rowH * folds.length + 4;
  el.append(s('line', {x1: m.l, x2: width - m.r, y1: axisY, y2: axisY, class: 'axisline'}));
  [[t0, 'start'], [(t0 + t1) / 2, 'middle'], [t1, 'end']].forEach(([v, anchor]) => {
    el.append(s('text', {x: x(v), y: axisY + 14, class: 'axis', 'text-anchor': anchor}, new Date(v).toISOString().slice(0, 10)));
  });
  el.append(legend([
    {label: 'train', className: 'span train'}, {label: 'purged', className: 'span purge'},
    {label: 'embargoed', className: 'span embargo'}, {label: 'test', className: 'span test'},
  ], m.l, height - 8));
  return el;
}
