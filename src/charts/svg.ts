// Charts drawn on the server as inline SVG: no script, no CDN. Each chart is a <figure> with an SVG that names
// itself (role="img", <title>, <desc>) and a data table under a <details> for screen readers and for copying.
// Strings are built directly (every text escaped) so a chart over thousands of points stays cheap.

/** Escapes text for HTML and SVG. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const W = 640;
const H = 240;
const PAD = { top: 16, right: 16, bottom: 36, left: 64 };

let seq = 0;
const nextId = () => `chart-${(++seq).toString(36)}`;

/** Round, readable ticks from 0 to at least `max`. */
export function niceTicks(max: number, count = 4, minStep = 0): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = Math.max(max / count, minStep);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Short number for axis labels (1.5k, 2M). */
export function shortNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(a >= 1e10 ? 0 : 1)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(a >= 1e4 ? 0 : 1)}k`;
  return Number(v.toPrecision(4)).toString();
}

const day = (t: number) => new Date(t).toISOString().slice(0, 10);

interface Frame {
  title: string;
  desc: string;
  /** Header and rows of the fallback table (already formatted). */
  table: { head: string[]; rows: string[][] };
}

function figure(f: Frame, body: string, id: string): string {
  const head = f.table.head.map((h) => `<th scope="col">${esc(h)}</th>`).join("");
  const rows = f.table.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("");
  return (
    `<figure class="chart"><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-labelledby="${id}-t ${id}-d" ` +
    `preserveAspectRatio="xMidYMid meet">` +
    `<title id="${id}-t">${esc(f.title)}</title><desc id="${id}-d">${esc(f.desc)}</desc>${body}</svg>` +
    `<figcaption>${esc(f.title)}</figcaption>` +
    `<details><summary>Data table</summary><div class="table-scroll"><table><thead><tr>${head}</tr></thead>` +
    `<tbody>${rows}</tbody></table></div></details></figure>`
  );
}

function yAxis(
  max: number,
  format: (v: number) => string,
  minStep = 0,
): { scale: (v: number) => number; svg: string; top: number } {
  const ticks = niceTicks(max, 4, minStep);
  const top = ticks.at(-1)!;
  const ih = H - PAD.top - PAD.bottom;
  const scale = (v: number) => PAD.top + ih - (top === 0 ? 0 : (v / top) * ih);
  let svg = "";
  for (const t of ticks) {
    const y = scale(t).toFixed(1);
    svg +=
      `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y}" y2="${y}" stroke="currentColor" stroke-opacity=".15"/>` +
      `<text x="${PAD.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="11" fill="currentColor">${esc(format(t))}</text>`;
  }
  return { scale, svg, top };
}

/** A point of a time series: `t` in ms since the epoch. */
export interface TimePoint {
  t: number;
  v: number;
}

/**
 * A step line over time (a balance that changes at events: the funding burn-down). Points are drawn in time
 * order; the table lists them.
 */
export function stepChart(o: {
  title: string;
  desc: string;
  points: readonly TimePoint[];
  unit: string;
  format?: (v: number) => string;
  /** Rows for the table (defaults to every point); long series are summarised by the caller. */
  tableRows?: string[][];
}): string {
  const id = nextId();
  const fmt = o.format ?? shortNumber;
  const pts = [...o.points].sort((a, b) => a.t - b.t);
  const table = {
    head: ["Date", o.unit],
    rows: o.tableRows ?? pts.map((p) => [new Date(p.t).toISOString().slice(0, 16).replace("T", " "), fmt(p.v)]),
  };
  if (pts.length === 0) {
    return figure({ title: o.title, desc: o.desc, table }, noData(), id);
  }
  let max = 0;
  for (const p of pts) if (p.v > max) max = p.v;
  const y = yAxis(max, fmt);
  const t0 = pts[0]!.t;
  const t1 = pts.length > 1 ? pts.at(-1)!.t : t0 + 86_400_000;
  const iw = W - PAD.left - PAD.right;
  const x = (t: number) => PAD.left + (t1 === t0 ? 0 : ((t - t0) / (t1 - t0)) * iw);
  const parts: string[] = [];
  let prevY = y.scale(pts[0]!.v);
  parts.push(`M${x(pts[0]!.t).toFixed(1)} ${prevY.toFixed(1)}`);
  for (let i = 1; i < pts.length; i++) {
    const px = x(pts[i]!.t).toFixed(1);
    const py = y.scale(pts[i]!.v);
    parts.push(`H${px}V${py.toFixed(1)}`);
    prevY = py;
  }
  parts.push(`H${(W - PAD.right).toFixed(1)}`);
  const axis =
    `<text x="${PAD.left}" y="${H - 12}" font-size="11" fill="currentColor">${esc(day(t0))}</text>` +
    `<text x="${W - PAD.right}" y="${H - 12}" font-size="11" text-anchor="end" fill="currentColor">${esc(day(t1))}</text>`;
  const body = `${y.svg}<path d="${parts.join("")}" fill="none" stroke="#2563eb" stroke-width="2"/>${axis}`;
  return figure({ title: o.title, desc: o.desc, table }, body, id);
}

/** One bar of a bar chart. */
export interface Bar {
  label: string;
  value: number;
  /** Text for the table's value cell (defaults to the formatted value). */
  text?: string;
}

/** Vertical bars with their labels under them (payouts per day, tasks per state, earnings per month). */
export function barChart(o: {
  title: string;
  desc: string;
  bars: readonly Bar[];
  unit: string;
  /** Header of the table's label column ("Day", "State"). */
  category: string;
  format?: (v: number) => string;
  color?: string;
  /** Counts: ticks at whole numbers only. */
  integer?: boolean;
}): string {
  const id = nextId();
  const fmt = o.format ?? shortNumber;
  const table = { head: [o.category, o.unit], rows: o.bars.map((b) => [b.label, b.text ?? fmt(b.value)]) };
  if (o.bars.length === 0) return figure({ title: o.title, desc: o.desc, table }, noData(), id);
  let max = 0;
  for (const b of o.bars) if (b.value > max) max = b.value;
  const y = yAxis(max, fmt, o.integer ? 1 : 0);
  const iw = W - PAD.left - PAD.right;
  const slot = iw / o.bars.length;
  const bw = Math.max(1, slot * 0.7);
  // label every bar when they fit, else about eight of them
  const every = Math.max(1, Math.ceil(o.bars.length / 8));
  let body = y.svg;
  const base = y.scale(0);
  o.bars.forEach((b, i) => {
    const x = PAD.left + i * slot + (slot - bw) / 2;
    const top = y.scale(b.value);
    body +=
      `<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${bw.toFixed(1)}" height="${(base - top).toFixed(1)}" ` +
      `fill="${o.color ?? "#2563eb"}"><title>${esc(`${b.label}: ${b.text ?? fmt(b.value)}`)}</title></rect>`;
    if (i % every === 0) {
      body += `<text x="${(x + bw / 2).toFixed(1)}" y="${H - 18}" font-size="11" text-anchor="middle" fill="currentColor">${esc(b.label)}</text>`;
    }
  });
  return figure({ title: o.title, desc: o.desc, table }, body, id);
}

function noData(): string {
  return `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" font-size="13" fill="currentColor">No data yet</text>`;
}
