// An asset's page: the player (opened at ?t=), image or pages, the timeline, technical
// metadata, features, sidecars, near-duplicates, similar items per space, collections,
// sharing, processing history, and re-analyze and delete for those allowed.
import { api } from "./api.js";
import { assetThumb, clear, h, thumb } from "./dom.js";
import { bytes, date, duration, stageChip, timecode } from "./format.js";
import { actions, collectionsBox, sharingBox } from "./manage.js";
import { timeline } from "./timeline.js";

function kv(pairs) {
  return h("dl", { class: "kv" }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").flatMap(([k, v]) => [h("dt", null, k), h("dd", null, String(v))]));
}

function flat(obj, prefix = "", out = []) {
  for (const [k, v] of Object.entries(obj || {})) {
    if (v && typeof v === "object" && !Array.isArray(v)) flat(v, `${prefix}${k}.`, out);
    else out.push([`${prefix}${k}`, Array.isArray(v) ? v.join(", ") : v]);
  }
  return out;
}

function viewer(a, detail, params) {
  const src = `/media/${a.asset_id}`;
  const name = a.file_name || a.asset_id;
  if (a.media_type === "video" || a.media_type === "audio") {
    const player = h(a.media_type, { id: "player", controls: true, preload: "metadata", src, "aria-label": `Player: ${name}` });
    const t = Number(params.get("t"));
    if (t > 0) {
      player.addEventListener("loadedmetadata", () => (player.currentTime = t), { once: true });
    }
    return { el: h("div", { class: "viewer" }, player), player };
  }
  if (a.media_type === "image") {
    const img = h("img", { src, alt: name, id: "picture" });
    img.addEventListener("error", () => img.replaceWith(thumb(detail.thumbnail_url, name, "image")), { once: true });
    return { el: h("div", { class: "viewer" }, img) };
  }
  const pages = detail.segments.filter((s) => s.kind === "page" && s.thumbnail);
  const wanted = Number(params.get("page"));
  const grid = h("div", { class: "pages" }, pages.map((p) =>
    h("figure", { class: p.page === wanted ? "current" : null, id: `page-${p.page}` },
      h("img", { src: `/${p.thumbnail}`, alt: `Page ${p.page} of ${name}`, loading: "lazy" }),
      h("figcaption", { class: "small muted" }, `Page ${p.page}`))));
  if (wanted) requestAnimationFrame(() => document.getElementById(`page-${wanted}`)?.scrollIntoView({ block: "center" }));
  return { el: h("div", { class: "viewer" }, pages.length ? grid : thumb(detail.thumbnail_url, name, "document")) };
}

function features(detail) {
  const tables = Object.entries(detail.features || {});
  if (!tables.length) return null;
  const skip = new Set(["asset_id", "analyzer", "analyzer_version", "mfcc_mean", "mfcc_std", "chroma_mean", "chroma_std"]);
  return h("section", { class: "panel" }, h("h2", null, "Features"), tables.map(([table, rows]) => {
    const cols = Object.keys(rows[0]).filter((c) => !skip.has(c));
    return h("details", null, h("summary", null, `${table.replace("features_", "")} (${rows.length})`),
      h("div", { class: "scroll-x" }, h("table", null,
        h("thead", null, h("tr", null, cols.map((c) => h("th", null, c)))),
        h("tbody", null, rows.slice(0, 50).map((r) => h("tr", null, cols.map((c) => {
          const v = r[c];
          const text = typeof v === "number" ? Number(v.toFixed(3)) : Array.isArray(v) ? v.join(", ") : v;
          return h("td", { class: "break" }, text ?? "");
        })))))));
  }));
}

function assetGrid(items) {
  return h("div", { class: "grid" }, items.map((it) =>
    h("a", { href: `/asset/${it.asset_id}` }, assetThumb(it), it.file_name,
      it.distance !== undefined ? h("span", { class: "chip" }, `distance ${it.distance}`) : null)));
}

async function similar(box, id) {
  const first = await api("/similar", { method: "POST", json: { asset_id: id, limit: 8, include_segments: false } }).catch(() => null);
  if (!first || !first.spaces.length) return clear(box, h("h2", null, "Similar"), h("p", { class: "muted" }, "Nothing to compare with yet."));
  const rows = await Promise.all(first.spaces.map((space) =>
    api("/similar", { method: "POST", json: { asset_id: id, space, limit: 8, include_segments: false } }).then((r) => [space, r.results]).catch(() => [space, []])));
  clear(box, h("h2", null, "Similar"), rows.filter(([, r]) => r.length).map(([space, results]) =>
    h("div", null, h("h3", null, `By ${space}`), assetGrid(results))));
}

async function history(box, id) {
  const found = await api(`/assets/${id}/history`).catch(() => null);
  if (!found) return box.remove();
  clear(box, h("h2", null, "Processing history"),
    h("ol", null, found.analyses.map((a) => h("li", null,
      h("strong", null, `${a.status}${a.current ? " (current)" : ""}`), ` ${date(a.analyzed_at)} · batch ${a.partition}`,
      a.error ? h("div", { class: "error small" }, a.error) : null,
      h("div", { class: "small muted break" }, Object.entries(a.analyzers).map(([k, v]) => `${k} ${v}`).join(" · "))))),
    h("details", null, h("summary", null, `Catalog events (${found.events.length})`),
      h("ul", { class: "small" }, found.events.map((e) => h("li", null, `${date(e.at)} — ${e.kind}`, e.actor ? ` by ${e.actor}` : "", e.run_id ? ` (run ${e.run_id.slice(0, 8)})` : "")))));
}

export async function render(main, ctx) {
  const id = ctx.match[1];
  let detail;
  try {
    detail = await api(`/assets/${id}`);
  } catch (err) {
    return clear(main, h("h1", null, err.status === 404 ? "Not found" : "Cannot show this asset"), h("p", null, err.status === 404 ? "No such asset, or not one you may see." : err.message));
  }
  const a = detail.asset;
  if (detail.state === "queued") {
    return clear(main, h("h1", null, a.file_name), h("p", null, "Uploaded and waiting for the pipeline."), h("a", { href: "/upload" }, "Upload page"));
  }
  const { el, player } = viewer(a, detail, ctx.params);
  const tech = typeof a.metadata === "string" ? JSON.parse(a.metadata || "{}") : a.metadata || {};
  const owner = detail.access !== null && detail.access !== undefined;
  const similarBox = h("section", { class: "panel" }, h("h2", null, "Similar"), h("p", { class: "muted" }, "Looking…"));
  const historyBox = h("section", { class: "panel" }, h("h2", null, "Processing history"));
  clear(
    main,
    h("h1", { class: "break" }, a.file_name || id),
    h("div", { class: "actions" },
      h("span", { class: "chip" }, a.media_type), h("span", { class: `chip ${stageChip(detail.state).tone}` }, stageChip(detail.state).name),
      h("a", { class: "button ghost", href: `/media/${id}?download=true`, download: "" }, "Download original"),
      owner && ctx.session.can("assets:write") ? actions(detail, ctx.navigate) : null),
    h("div", { class: "asset" },
      h("div", { class: "stack" }, el, player ? timeline(detail.segments, player, a.duration_s) : null, features(detail), similarBox),
      h("div", { class: "stack" },
        h("section", { class: "panel" }, h("h2", null, "Details"), kv([
          ["Type", a.mime_type], ["Size", bytes(a.size_bytes)], ["Duration", duration(a.duration_s)],
          ["Dimensions", a.width ? `${a.width} × ${a.height}` : ""], ["Added", date(a.arrived_at)],
          ["Where", detail.uris.join(", ")], ["Error", a.error], ["Id", id],
        ]), tech.technical ? h("details", null, h("summary", null, "Technical metadata"), kv(flat(tech.technical))) : null),
        detail.sidecars.length ? h("section", { class: "panel" }, h("h2", null, "Sidecars"), h("ul", null, detail.sidecars.map((s) => h("li", { class: "break" }, `${s.kind}: ${s.uri}`)))) : null,
        detail.near_duplicates.length ? h("section", { class: "panel" }, h("h2", null, "Near-duplicates"), assetGrid(detail.near_duplicates)) : null,
        collectionsBox(detail, ctx.session),
        owner ? sharingBox(detail) : null,
        historyBox)),
  );
  const jump = player && ctx.params.get("t") ? ` from ${timecode(Number(ctx.params.get("t")))}` : "";
  if (jump) main.querySelector("h1").append(h("span", { class: "muted small" }, ` — playing${jump}`));
  similar(similarBox, id);
  history(historyBox, id);
}
