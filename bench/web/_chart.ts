/**
 * The benchmark's chart: one group of bars per test, one bar per server,
 * the bar's height its req/s as a multiple of the reference server's in
 * the same A B B A block (a dashed line marks 1×), the req/s written
 * above it. Plain SVG, no dependencies.
 *
 * @module
 */

/** One bar. */
export interface Bar {
  /** The server. */
  peer: string;
  /** Requests per second. */
  rps: number;
  /** Multiple of the reference server. */
  ratio: number;
}

/** One group: a test and its bars. */
export interface Group {
  /** The test. */
  test: string;
  /** A bar per server, in legend order. */
  bars: Bar[];
}

// The reference first (grey), then lunet (blue), Node (amber), lunet on npm:postgres (green).
const COLORS = ["#9b9b9b", "#2b6cb0", "#d69e2e", "#38a169", "#c53030"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function shortRps(rps: number): string {
  return rps >= 10_000
    ? `${Math.round(rps / 1000)}k`
    : rps >= 1000
    ? `${(rps / 1000).toFixed(1)}k`
    : rps.toFixed(0);
}

/** The chart of `groups` as an SVG document. */
export function barChart(title: string, subtitle: string, groups: Group[]): string {
  const peers = groups[0]?.bars.map((b) => b.peer) ?? [];
  const barW = 26, gap = 34, left = 56, top = 70, plotH = 300, bottom = 60;
  const groupW = peers.length * barW + gap;
  const width = left + groups.length * groupW + 20;
  const height = top + plotH + bottom;
  const max = Math.max(1.5, ...groups.flatMap((g) => g.bars.map((b) => b.ratio)));
  const step = max > 8 ? 2 : max > 3 ? 1 : 0.5;
  const yMax = Math.ceil(max / step) * step;
  const y = (v: number) => top + plotH - (v / yMax) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="${left}" y="40" fill="#555">${esc(subtitle)}</text>`,
  ];
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    out.push(
      `<line x1="${left}" x2="${width - 20}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`,
      `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${v}×</text>`,
    );
  }
  out.push(
    `<line x1="${left}" x2="${width - 20}" y1="${y(1)}" y2="${y(1)}" stroke="#333" ` +
      `stroke-dasharray="4 3"/>`,
  );
  groups.forEach((g, gi) => {
    const x0 = left + gap / 2 + gi * groupW;
    g.bars.forEach((b, bi) => {
      const x = x0 + bi * barW;
      const h = Math.max(1, (b.ratio / yMax) * plotH);
      out.push(
        `<rect x="${x}" y="${y(b.ratio)}" width="${barW - 4}" height="${h}" ` +
          `fill="${COLORS[bi % COLORS.length]}"><title>${esc(b.peer)}: ${b.rps.toFixed(0)} req/s (${
            b.ratio.toFixed(2)
          }×)</title></rect>`,
        `<text x="${x + (barW - 4) / 2}" y="${y(b.ratio) - 4}" text-anchor="middle" ` +
          `font-size="9">${shortRps(b.rps)}</text>`,
      );
    });
    out.push(
      `<text x="${x0 + (peers.length * barW) / 2 - 2}" y="${top + plotH + 16}" ` +
        `text-anchor="middle">${esc(g.test)}</text>`,
    );
  });
  let lx = left;
  peers.forEach((p, i) => {
    out.push(
      `<rect x="${lx}" y="${height - 22}" width="10" height="10" fill="${
        COLORS[i % COLORS.length]
      }"/>`,
      `<text x="${lx + 14}" y="${height - 13}">${esc(p)}</text>`,
    );
    lx += 24 + p.length * 6.5;
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
