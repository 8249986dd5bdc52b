// A model's feature clusters: clustered importance (MDA per cluster, mean ± spread over folds) and the
// features its cluster step kept. Data: derived.explanations.clusters and derived.cluster_step.
import {hbarChart} from './charts.js';
import {empty, errorBox, h, num, section, table} from './util.js';

const SHOWN = 8; // members listed in a row before "+N more"

function members(names, kept) {
  const shown = names.slice(0, SHOWN).map((n, i) => [i ? ', ' : '', kept.has(n) ? h('strong', {title: 'kept by the cluster step'}, n) : n]);
  return h('span', {}, shown, names.length > SHOWN ? h('span', {class: 'muted', title: names.slice(SHOWN).join(', ')}, ` +${names.length - SHOWN} more`) : null);
}

export function clusterSection(m) {
  const info = m.derived?.explanations?.clusters;
  const step = m.derived?.cluster_step;
  const kept = new Set((step?.clusters || []).map((c) => c.kept));
  if (info?.error) return section('Feature clusters', errorBox(`clustered importance failed: ${info.error}`));
  if (!info?.clusters?.length) return section('Feature clusters', empty('No clustered importance for this model (trained without explanations, or before it existed).'));
  const rows = info.clusters;
  const cols = [
    {label: 'cluster', className: 'num', value: (c) => String(c.cluster)},
    {label: 'members', value: (c) => members(c.members, kept)},
    {label: 'size', className: 'num', value: (c) => String(c.members.length)},
    {label: `importance (${info.scoring} drop)`, className: 'num',
      value: (c) => (c.seen_folds === 0 ? h('span', {class: 'muted', title: 'pruned in every fold: the model never saw a member'}, 'not used') : `${num(c.importance)} ± ${num(c.std)}`)},
  ];
  const note = `${info.distance}, ${info.linkage} linkage cut at ${info.threshold} on ${info.cluster_rows} training rows; `
    + `each cluster's features permuted together on each fold's test rows (${info.repeats} repeats), mean ± spread over folds`
    + (kept.size ? `; bold: the ${kept.size} feature(s) the cluster step kept (threshold ${step.threshold})` : '');
  return section('Feature clusters',
    h('p', {class: 'muted', 'data-testid': 'clusters-note'}, note),
    hbarChart({items: rows.slice(0, 12).map((c) => ({label: `#${c.cluster} ${c.members[0]}${c.members.length > 1 ? ` +${c.members.length - 1}` : ''}`, value: Number(c.importance)})),
      label: 'Clustered importance', testid: 'clusters-chart'}),
    h('div', {class: 'table-wrap'}, table(cols, rows, {attrs: {class: 'grid', 'data-testid': 'clusters-table'}})));
}
