// Charts with the vendored Chart.js (a global `Chart`, loaded by index.html before the modules run).

import { h } from './dom.js';

const live = new Set();
export const COLORS = ['#2f6fb0', '#e07b39', '#3a9a5b', '#b8434e', '#7d5ba6', '#c9a227', '#3aa5a8', '#8a8a8a'];

export function destroyCharts() {
  for (const chart of live) chart.destroy();
  live.clear();
}

// A canvas in a box sized by the style sheet; `config` is a Chart.js configuration. Animation is off: the
// numbers show at once. Chart.js waits for the canvas to be attached to the page before it draws.
export function chart(id, config, { tall = false } = {}) {
  const canvas = h('canvas', { id, role: 'img', 'aria-label': config.label || id });
  const box = h('div', { class: tall ? 'chart-box tall' : 'chart-box' }, canvas);
  const options = {
    animation: false, responsive: true, maintainAspectRatio: false,
    plugins: { legend: { position: 'bottom' } }, ...config.options,
  };
  live.add(new window.Chart(canvas, { type: config.type, data: config.data, options }));
  return box;
}

export function bar(id, labels, datasets, options = {}, size = {}) {
  return chart(id, {
    type: 'bar', label: options.label,
    data: { labels, datasets: datasets.map((d, i) => ({ backgroundColor: COLORS[i % COLORS.length], ...d })) },
    options: options.chart,
  }, size);
}

export function doughnut(id, labels, values) {
  return chart(id, {
    type: 'doughnut',
    data: { labels, datasets: [{ data: values, backgroundColor: COLORS.slice(0, values.length) }] },
  });
}
