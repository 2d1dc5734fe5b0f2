// Browse and manage: every asset one may read with filters and sorting and batch
// actions, the failures with their reasons and a re-analyze button, and collections.
import { api } from "./api.js";
import { clear, h, toast } from "./dom.js";
import { bytes, date, duration, stageChip } from "./format.js";
import { collectionsView } from "./collections.js";

const POOL = 500; // the newest assets, sorted and filtered here
const SORTS = {
  newest: (a, b) => (b.arrived_at || "").localeCompare(a.arrived_at || ""),
  oldest: (a, b) => (a.arrived_at || "").localeCompare(b.arrived_at || ""),
  name: (a, b) => (a.file_name || "").localeCompare(b.file_name || ""),
  largest: (a, b) => (b.size_bytes || 0) - (a.size_bytes || 0),
  longest: (a, b) => (b.duration_s || 0) - (a.duration_s || 0),
};

function tabs(view) {
  const tab = (v, label) => h("a", { href: `/library?view=${v}`, "aria-current": view === v ? "page" : null }, label);
  return h("nav", { class: "tabs", "aria-label": "Library views" }, tab("all", "All assets"), tab("failures", "Failures"), tab("collections", "Collections"));
}

function chip(state) {
  const { name, tone } = stageChip(state);
  return h("span", { class: `chip ${tone}` }, name);
}

async function batch(action, ids, session) {
  for (const id of ids) {
    if (action === "analyze") await api(`/assets/${id}/analyze`, { method: "POST" }).catch((e) => toast(e.message));
    if (action === "delete") await api(`/assets/${id}`, { method: "DELETE" }).catch((e) => toast(e.message));
  }
  if (action === "collect") {
    const name = prompt("Add to the collection named:");
    if (!name) return;
    const mine = (await api("/collections")).find((c) => c.name === name && (c.mine || session.mode === "open"));
    const target = mine || (await api("/collections", { method: "POST", json: { name } }));
    await api(`/collections/${target.id}/items`, { method: "POST", json: { asset_ids: ids } });
  }
  toast(`Done for ${ids.length} asset${ids.length === 1 ? "" : "s"}`);
}

async function allView(box, params, ctx) {
  const failures = params.get("view") === "failures";
  const query = new URLSearchParams({ limit: String(POOL) });
  if (failures) query.set("status", "failed");
  const page = await api(`/assets?${query}`);
  const type = h("select", { "aria-label": "Media type" }, ["", "video", "audio", "image", "document"].map((t) => h("option", { value: t }, t || "all types")));
  const state = h("select", { "aria-label": "State" }, ["", "queued", "processing", "completed", "failed", "skipped"].map((s) => h("option", { value: s }, s ? stageChip(s).name : "all states")));
  const text = h("input", { type: "search", placeholder: "Name contains", "aria-label": "Name contains" });
  const sort = h("select", { "aria-label": "Sort" }, Object.keys(SORTS).map((s) => h("option", { value: s }, s)));
  const body = h("tbody");
  const selectAll = h("input", { type: "checkbox", "aria-label": "Select all shown" });
  const draw = () => {
    const rows = page.items
      .filter((a) => !type.value || a.media_type === type.value)
      .filter((a) => !state.value || a.state === state.value)
      .filter((a) => !text.value || (a.file_name || "").toLowerCase().includes(text.value.toLowerCase()))
      .sort(SORTS[sort.value]);
    clear(body, rows.map((a) => h("tr", null,
      h("td", null, h("input", { type: "checkbox", value: a.asset_id, "aria-label": `Select ${a.file_name}` })),
      h("td", null, h("a", { href: `/asset/${a.asset_id}`, class: "break" }, a.file_name || a.asset_id)),
      h("td", null, a.media_type || ""), h("td", null, chip(a.state)),
      h("td", null, duration(a.duration_s)), h("td", null, bytes(a.size_bytes)), h("td", null, date(a.arrived_at)),
      failures ? h("td", { class: "error break" }, a.error || "") : null,
      failures ? h("td", null, h("button", { type: "button", class: "ghost", onclick: () => batch("analyze", [a.asset_id], ctx.session) }, "Re-analyze")) : null)));
  };
  for (const input of [type, state, sort]) input.addEventListener("change", draw);
  text.addEventListener("input", draw);
  selectAll.addEventListener("change", () => body.querySelectorAll("input[type=checkbox]").forEach((c) => (c.checked = selectAll.checked)));
  const chosen = () => [...body.querySelectorAll("input:checked")].map((c) => c.value);
  const act = (action, label, css) => h("button", { type: "button", class: css || "ghost", onclick: async () => {
    const ids = chosen();
    if (!ids.length) return toast("Select some assets first");
    if (action === "delete" && !confirm(`Delete ${ids.length} assets?`)) return;
    await batch(action, ids, ctx.session);
    render(document.getElementById("main"), ctx);
  } }, label);
  const writer = ctx.session.can("assets:write");
  clear(box,
    h("div", { class: "row" }, type, failures ? null : state, text, sort),
    h("p", { class: "muted small" }, `${page.total} asset${page.total === 1 ? "" : "s"}${page.total > POOL ? ` (the ${POOL} newest shown)` : ""}`),
    writer ? h("div", { class: "actions" }, act("collect", "Add to collection"), act("analyze", "Re-analyze"), act("delete", "Delete", "danger")) : null,
    h("div", { class: "scroll-x" }, h("table", null, h("thead", null, h("tr", null,
      h("th", null, selectAll), h("th", null, "Name"), h("th", null, "Type"), h("th", null, "State"), h("th", null, "Duration"),
      h("th", null, "Size"), h("th", null, "Added"), failures ? h("th", null, "Reason") : null, failures ? h("th", null, "") : null)), body)));
  draw();
}

export async function render(main, ctx) {
  const view = ctx.params.get("collection") ? "collections" : ctx.params.get("view") || "all";
  const box = h("div", null, h("p", { class: "muted" }, "Loading…"));
  clear(main, h("h1", null, "Library"), tabs(view), box);
  if (view === "collections") return collectionsView(box, ctx);
  return allView(box, ctx.params, ctx);
}
