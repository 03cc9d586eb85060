// The beacon chart of an alert page: the seconds between the evidence flows'
// connections, drawn with uPlot (loaded before this script). Data comes from
// the chart element's data attributes; nothing here runs inline.
declare const uPlot: new (opts: object, data: number[][], target: HTMLElement) => unknown;

function drawBeacon(): void {
  const el = document.getElementById('beacon-chart');
  if (!el || typeof uPlot === 'undefined') return;
  const times = JSON.parse(el.dataset.times ?? '[]') as number[];
  if (times.length < 2) return;
  const xs = times.slice(1);
  const gaps = xs.map((t, i) => t - times[i]);
  const width = Math.max(300, Math.min(1000, el.clientWidth || 800));
  new uPlot(
    {
      width,
      height: 220,
      series: [{}, { label: 'seconds since the previous connection', stroke: '#22303c', points: { show: true, size: 5 }, width: 0 }],
      axes: [{}, { label: 'seconds' }],
    },
    [xs, gaps],
    el,
  );
}

document.addEventListener('DOMContentLoaded', drawBeacon);
