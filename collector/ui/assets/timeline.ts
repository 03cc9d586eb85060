// The device page's charts of Internet flows per day by country and by
// operator, drawn with uPlot (loaded before this script) from the JSON the
// element's data-src names. Labels reach the page only as text (uPlot writes
// them with textContent); nothing here runs inline.
declare const uPlot: {
  new (opts: object, data: (number | null)[][], target: HTMLElement): unknown;
  tzDate(d: Date, tz: string): Date;
};

interface Timeline {
  days: number[];
  series: { label: string; flows: number[] }[];
  flows: number;
  truncated: boolean;
}

const COLOURS = ['#b22a1c', '#22303c', '#2f7ebc', '#3a9a5b', '#b35c00', '#888888'];

function say(el: HTMLElement, text: string): void {
  const p = document.createElement('p');
  p.className = 'none';
  p.textContent = text;
  el.replaceChildren(p);
}

async function drawTimeline(el: HTMLElement): Promise<void> {
  const r = await fetch(el.dataset.src ?? '', { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (!r.ok) return say(el, `The chart could not be loaded (HTTP ${r.status}).`);
  const t = (await r.json()) as Timeline;
  if (!t.days.length) return say(el, 'No flow to a destination with a known country.');
  const width = Math.max(300, Math.min(1000, el.clientWidth || 800));
  new uPlot(
    {
      width,
      height: 220,
      // Days are UTC days, and the axis says so whatever the browser's zone.
      tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      // Half a day either side: one day alone would otherwise be stretched over years.
      scales: { x: { time: true, range: () => [t.days[0] - 43_200, t.days[t.days.length - 1] + 43_200] } },
      series: [{}, ...t.series.map((s, i) => ({ label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2, points: { show: true, size: 5 } }))],
      axes: [{}, { label: 'flows per day' }],
    },
    [t.days, ...t.series.map((s) => s.flows)],
    el,
  );
  el.dataset.drawn = String(t.series.length);
  if (t.truncated) el.insertAdjacentText('afterend', ` (from the newest ${t.flows} Internet flows only)`);
}

document.addEventListener('DOMContentLoaded', () => {
  // A fetch cut short (the page left, the collector gone) leaves a line of text, not an uncaught error.
  for (const el of document.querySelectorAll<HTMLElement>('.timeline[data-src]')) drawTimeline(el).catch(() => say(el, 'The chart could not be loaded.'));
});
