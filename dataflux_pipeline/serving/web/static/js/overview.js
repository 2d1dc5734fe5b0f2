// The overview: how much is in the catalog and in what state, media hours, ingest
// throughput over time, storage, and what people search for (and do not find).
import { api } from "./api.js";
import { bars, columns } from "./charts.js";
import { clear, h } from "./dom.js";
import { bytes, hours, stageChip } from "./format.js";

function tile(label, value) {
  return h("div", { class: "panel tile" }, h("span", { class: "muted small" }, label), h("strong", null, value));
}

function chart(title, svg) {
  return h("section", { class: "panel chart" }, h("h2", null, title), svg);
}

function queryTable(title, rows, cols) {
  return h("section", { class: "panel" }, h("h2", null, title), rows.length
    ? h("div", { class: "scroll-x" }, h("table", null, h("thead", null, h("tr", null, cols.map(([, label]) => h("th", null, label)))),
        h("tbody", null, rows.map((r) => h("tr", null, cols.map(([key]) => h("td", { class: "break" }, key === "query" ? h("a", { href: `/?q=${encodeURIComponent(r.query)}` }, r.query) : String(r[key]))))))))
    : h("p", { class: "muted" }, "None yet."));
}

export async function render(main, ctx) {
  const days = Number(ctx.params.get("days")) || 30;
  const o = await api(`/stats/overview?days=${days}`);
  const period = h("select", { id: "days", "aria-label": "Period" }, [[1, "last 24 hours"], [7, "last 7 days"], [30, "last 30 days"], [365, "last year"]].map(([v, label]) => h("option", { value: String(v), selected: v === days }, label)));
  period.addEventListener("change", () => ctx.navigate(`/overview?days=${period.value}`));
  const points = o.throughput.points.map((p) => ({ at: p.at, value: p.analyzed, failed: p.failed }));
  const charts = [
    chart("By media type", bars(o.by_media_type.map((r) => [r.media_type, r.count, `${r.count} · ${bytes(r.bytes)}`]), { title: "Assets by media type" })),
    chart("By state", bars(o.by_state.map((r) => [stageChip(r.state).name, r.count]), { title: "Assets by state", tone: (l) => (l === "failed" ? "bad" : "") })),
    chart(`Ingest per ${o.throughput.bucket}`, points.length ? columns(points, { title: "Contents analyzed over time", bucket: o.throughput.bucket }) : h("p", { class: "muted" }, "Nothing analyzed in this period.")),
  ];
  if (o.storage) {
    const rows = Object.entries(o.storage).map(([k, v]) => [k, v, bytes(v)]);
    charts.push(chart("Storage here", bars([["originals", o.original_bytes, bytes(o.original_bytes)], ...rows], { title: "Storage used" })));
  }
  clear(main,
    h("div", { class: "summary" }, h("h1", null, "Overview"), period),
    h("div", { class: "tiles" },
      tile("Assets", String(o.assets)), tile("Media", hours(o.media_hours)), tile("Originals", bytes(o.original_bytes)),
      o.queries ? tile("Searches", String(o.queries.total)) : null,
      o.queries ? tile("Found nothing", `${Math.round(o.queries.zero_share * 100)} %`) : null),
    h("div", { class: "charts" }, charts,
      o.queries ? queryTable("Top searches", o.queries.top, [["query", "Query"], ["count", "Times"], ["results", "Results"]]) : null,
      o.queries ? queryTable("Searches that found nothing", o.queries.zero, [["query", "Query"], ["count", "Times"]]) : null));
}
