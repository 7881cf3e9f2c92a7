// The report's browser side: draws the charts with uPlot from the data the report embeds. report.ts puts this
// function into the page with Function.prototype.toString (as browser drivers do with evaluate), so it stays
// type-checked here but must refer to nothing outside itself. Text is never set as HTML: uPlot builds its own DOM.
import type uPlot from 'uplot';

type Column = (number | null)[];

export interface ChartSeries {
  label: string;
  values: Column;
  /** Drawn dashed: a reference line such as the target rate. */
  dashed?: boolean;
}

export interface ChartSpec {
  /** The id of the chart's container in the page. */
  id: string;
  x: number[];
  series: ChartSeries[];
  yLabel: string;
  /** `seconds`: elapsed time since the start; `percentile`: x is 1 / (1 - q), drawn on a log scale. */
  xKind: 'seconds' | 'percentile';
}

export function drawCharts(charts: ChartSpec[], U: typeof uPlot): void {
  // Colour-blind-safe (Okabe-Ito), dark enough on white.
  const colours = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000', '#8c564b'];
  const plots: { plot: uPlot; el: HTMLElement }[] = [];

  const percentileLabel = (x: number): string => {
    const q = 100 * (1 - 1 / x);
    if (q <= 0) return '0%';
    const digits = Math.max(0, Math.round(Math.log10(x)) - 2);
    return `${q.toFixed(digits)}%`;
  };

  for (const spec of charts) {
    const el = document.getElementById(spec.id);
    if (el === null) continue;
    const log = spec.xKind === 'percentile';
    const maxX = spec.x.length > 0 ? (spec.x[spec.x.length - 1] as number) : 1;
    const decades: number[] = [];
    for (let d = 1; d <= maxX * 1.0001; d *= 10) decades.push(d);
    const opts: uPlot.Options = {
      width: Math.max(300, el.clientWidth),
      height: 280,
      scales: {
        // Seconds from 0, at least one wide: a run shorter than a second is one point, not a 100 s axis.
        x: log ? { time: false, distr: 3, log: 10 } : { time: false, auto: false, range: [0, Math.max(1, maxX)] },
        // From zero: a 2 % dip in the rate must not look like a collapse.
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] },
      },
      axes: [
        log
          ? { label: 'percentile', splits: () => decades, values: (_u, splits) => splits.map(percentileLabel) }
          : { label: 'seconds since the start', incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600], values: (_u, splits) => splits.map((s) => `${s}s`) },
        { label: spec.yLabel, size: 60 },
      ],
      series: [
        { label: log ? 'percentile' : 'second', value: (_u, v) => (v === null ? '—' : log ? percentileLabel(v) : `${v}s`) },
        ...spec.series.map((s, i) => ({
          label: s.label,
          stroke: colours[i % colours.length],
          width: 2,
          dash: s.dashed ? [8, 5] : undefined,
          spanGaps: false,
          points: { show: spec.x.length <= 60 },
          value: (_u: uPlot, v: number | null) => (v === null ? '—' : `${Math.round(v * 1000) / 1000}`),
        })),
      ],
      legend: { live: true },
    };
    const plot = new U(opts, [spec.x, ...spec.series.map((s) => s.values)] as uPlot.AlignedData, el);
    const drawn = spec.series.reduce((n, s) => n + s.values.filter((v) => v !== null).length, 0);
    el.dataset.points = String(drawn);
    if (drawn === 0) {
      const note = document.createElement('p');
      note.className = 'empty';
      note.textContent = 'Nothing to draw: no request in this run has a value here.';
      el.prepend(note);
    }
    plots.push({ plot, el });

    // Keyboard: arrows, Home and End move the cursor point by point, and the legend shows that point's values.
    el.addEventListener('keydown', (e: KeyboardEvent) => {
      const n = spec.x.length;
      if (n === 0) return;
      const at = plot.cursor.idx ?? -1;
      let i: number;
      if (e.key === 'ArrowRight') i = at < 0 ? 0 : Math.min(n - 1, at + 1);
      else if (e.key === 'ArrowLeft') i = at < 0 ? n - 1 : Math.max(0, at - 1);
      else if (e.key === 'Home') i = 0;
      else if (e.key === 'End') i = n - 1;
      else return;
      e.preventDefault();
      const first = spec.series.find((s) => s.values[i] !== null && s.values[i] !== undefined);
      const top = first ? plot.valToPos(first.values[i] as number, 'y') : plot.bbox.height / devicePixelRatio / 2;
      plot.setCursor({ left: plot.valToPos(spec.x[i] as number, 'x'), top });
    });
  }

  let pending = 0;
  window.addEventListener('resize', () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      for (const { plot, el } of plots) plot.setSize({ width: Math.max(300, el.clientWidth), height: 280 });
    });
  });
}
