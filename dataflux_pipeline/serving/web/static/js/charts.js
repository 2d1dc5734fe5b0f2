// Small SVG charts drawn from data (no chart library): horizontal bars for shares, and
// columns over time. Labels are text nodes; sizes are attributes, never style markup.
import { s } from "./dom.js";

/** Horizontal bars: [[label, value, text]]; `tone(label)` may mark a bar ("bad"). */
export function bars(rows, { title, tone = () => "" } = {}) {
  const max = Math.max(1, ...rows.map(([, v]) => v));
  const rowH = 26;
  const width = 320;
  const labelW = 90;
  const svg = s("svg", { viewBox: `0 0 ${width} ${rows.length * rowH + 4}`, role: "img", "aria-label": title });
  rows.forEach(([label, value, text], i) => {
    const y = i * rowH + 2;
    const w = Math.max(2, ((width - labelW - 70) * value) / max);
    svg.append(
      s("text", { x: 0, y: y + 16 }, label),
      s("rect", { class: `bar ${tone(label)}`, x: labelW, y: y + 4, width: w, height: rowH - 10, rx: 3 }),
      s("text", { x: labelW + w + 6, y: y + 16 }, text ?? String(value)),
    );
  });
  return svg;
}

/** Columns over time: points [{at, value, failed}] (failed stacked on top in red),
 *  bucket "hour" or "day". */
export function columns(points, { title, bucket = "day" } = {}) {
  const width = 320;
  const height = 140;
  const base = height - 20;
  const max = Math.max(1, ...points.map((p) => p.value + (p.failed || 0)));
  const step = points.length ? (width - 30) / points.length : width;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  svg.append(s("line", { class: "axis", x1: 28, y1: base, x2: width, y2: base }), s("text", { x: 0, y: 12 }, String(max)));
  points.forEach((p, i) => {
    const x = 30 + i * step;
    const h = ((base - 10) * p.value) / max;
    const bad = ((base - 10) * (p.failed || 0)) / max;
    const when = new Date(p.at);
    const tip = `${bucket === "hour" ? when.toLocaleString() : when.toLocaleDateString()}: ${p.value} analyzed${p.failed ? `, ${p.failed} failed` : ""}`;
    svg.append(
      s("rect", { class: "bar", x: x + 1, y: base - h, width: Math.max(2, step - 2), height: h }, s("title", null, tip)),
      bad ? s("rect", { class: "bar bad", x: x + 1, y: base - h - bad, width: Math.max(2, step - 2), height: bad }) : null,
    );
  });
  if (points.length) {
    const fmt = (p) => (bucket === "hour" ? new Date(p.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : new Date(p.at).toLocaleDateString());
    svg.append(s("text", { x: 30, y: height - 4 }, fmt(points[0])));
    if (points.length > 1) svg.append(s("text", { x: width - 70, y: height - 4 }, fmt(points[points.length - 1])));
  }
  return svg;
}
