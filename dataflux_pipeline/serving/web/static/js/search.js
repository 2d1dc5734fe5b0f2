// The search page: one box, filters, results grouped per file with the picture of the
// matching moment and the matching text, each time-coded hit a link that opens the
// player at that second; pages of 20, or sorted among the 100 best matches.
import { api } from "./api.js";
import { assetThumb, clear, h, marked, thumb } from "./dom.js";
import { bytes, duration, timecode } from "./format.js";
import { SORTS, described, filtersForm, paramsFrom, requestFrom, withoutFilters } from "./filters.js";

const PAGE = 20;
const SORTED_POOL = 100;
const SORTERS = {
  newest: (a, b) => (b.metadata.arrived_at || "").localeCompare(a.metadata.arrived_at || ""),
  oldest: (a, b) => (a.metadata.arrived_at || "").localeCompare(b.metadata.arrived_at || ""),
  longest: (a, b) => (b.metadata.duration_s || 0) - (a.metadata.duration_s || 0),
  shortest: (a, b) => (a.metadata.duration_s || 1e12) - (b.metadata.duration_s || 1e12),
  largest: (a, b) => (b.metadata.size_bytes || 0) - (a.metadata.size_bytes || 0),
  name: (a, b) => (a.file_name || "").localeCompare(b.file_name || ""),
};

function momentLink(assetId, seg) {
  if (seg && seg.start_s !== null && seg.start_s !== undefined) return `/asset/${assetId}?t=${seg.start_s}`;
  if (seg && seg.page !== null && seg.page !== undefined) return `/asset/${assetId}?page=${seg.page}`;
  return `/asset/${assetId}`;
}

function where(seg) {
  if (seg.start_s !== null && seg.start_s !== undefined) return timecode(seg.start_s);
  if (seg.page !== null && seg.page !== undefined) return `p. ${seg.page}`;
  return "";
}

function hitItem(hit) {
  const name = hit.file_name || hit.asset_id.slice(0, 12);
  const best = hit.segments.find((s) => s.moment_thumbnail_url) || hit.segments[0];
  const picture = (best && best.moment_thumbnail_url) || hit.thumbnail_url;
  const at = best ? where(best) : "";
  const alt = at ? `${name} at ${at}` : `Thumbnail of ${name}`;
  const meta = [hit.media_type, duration(hit.metadata.duration_s), bytes(hit.metadata.size_bytes)];
  return h(
    "li",
    { class: "hit panel" },
    h("a", { href: momentLink(hit.asset_id, best), tabindex: "-1", "aria-hidden": "true" }, thumb(picture, alt, hit.media_type)),
    h(
      "div",
      { class: "break" },
      h("h2", null, h("a", { href: momentLink(hit.asset_id, best) }, name)),
      h("div", { class: "muted small" }, meta.filter(Boolean).join(" · ")),
      h(
        "ul",
        { class: "moments" },
        hit.segments.map((seg) => {
          const label = where(seg);
          return h(
            "li",
            { class: "moment" },
            label
              ? h("a", { class: "time", href: momentLink(hit.asset_id, seg), "aria-label": `Open ${name} at ${label}` }, `▶ ${label}`)
              : null,
            h("span", { class: "chip" }, seg.kind || "match"),
            h("span", { class: "text" }, seg.highlight ? marked(seg.highlight) : seg.text || ""),
          );
        }),
      ),
    ),
  );
}

async function whyEmpty(params, req) {
  const everything = await api("/assets?limit=1").catch(() => ({ total: 1 }));
  if (!everything.total) {
    return [h("p", null, "There is nothing in your catalog yet."), h("a", { class: "button", href: "/upload" }, "Upload files")];
  }
  const active = described(params);
  if (active.length) {
    const plain = { query: req.query, limit: 1, include_segments: false };
    const wider = await api("/search", { method: "POST", json: plain }).catch(() => ({ total: 0 }));
    const link = `/?${withoutFilters(params)}`;
    return [
      h("p", null, `Nothing matches “${req.query}” with these filters: ${active.join(", ")}.`),
      wider.total
        ? h("p", null, `Without them there ${wider.total === 1 ? "is 1 result" : `are ${wider.total} results`}. `, h("a", { href: link }, "Search without filters"))
        : h("p", null, "Without them nothing matches either."),
    ];
  }
  return [
    h("p", null, `Nothing in the catalog matches “${req.query}”.`),
    h("p", { class: "muted" }, "Search reads subtitles, speech, the text of documents and pictures, and tags, and compares meanings as well as words: try other or fewer words."),
  ];
}

async function showResults(box, params, ctx) {
  const req = requestFrom(params);
  const sort = params.get("sort") || "relevance";
  const page = Math.max(1, Number(params.get("page")) || 1);
  const pooled = sort !== "relevance";
  const body = { ...req, limit: pooled ? SORTED_POOL : PAGE, offset: pooled ? 0 : (page - 1) * PAGE, segments_per_asset: 3 };
  clear(box, h("p", { class: "muted" }, "Searching…"));
  let resp;
  try {
    resp = await api("/search", { method: "POST", json: body });
  } catch (err) {
    return clear(box, h("p", { class: "error" }, err.message));
  }
  const started = performance.now();
  let hits = resp.results;
  const total = pooled ? hits.length : resp.total;
  if (pooled) hits = [...hits].sort(SORTERS[sort]).slice((page - 1) * PAGE, page * PAGE);
  if (!hits.length) {
    return clear(box, h("div", { class: "empty panel", id: "empty" }, h("h2", null, "No results"), ...(await whyEmpty(params, req))));
  }
  const first = (page - 1) * PAGE + 1;
  const list = h("ol", { class: "results", id: "results", start: first }, hits.map(hitItem));
  const pages = Math.ceil(total / PAGE);
  const go = (n) => {
    const next = new URLSearchParams(params);
    next.set("page", String(n));
    return `/?${next}`;
  };
  clear(
    box,
    h("p", { class: "muted small", id: "count" },
      `${first}–${first + hits.length - 1} of ${total}${pooled ? " (sorted among the best matches)" : ""} · ${Math.round(resp.took_ms)} ms`),
    list,
    pages > 1
      ? h("nav", { class: "pager", "aria-label": "Pages" },
          page > 1 ? h("a", { class: "button ghost", href: go(page - 1), rel: "prev" }, "← Previous") : null,
          h("span", { class: "muted" }, `Page ${page} of ${pages}`),
          page < pages ? h("a", { class: "button ghost", href: go(page + 1), rel: "next" }, "Next →") : null)
      : null,
  );
  list.dataset.renderMs = String(Math.round(performance.now() - started));
  ctx.lastResponse = resp;
}

async function showRecent(box) {
  const recent = await api("/assets?limit=12&status=indexed").catch(() => ({ items: [] }));
  clear(
    box,
    h("p", { class: "muted" }, "Search by words or meaning: what is said, written, shown or sung. Press / to come back to the box."),
    recent.items.length ? h("h2", null, "Recently added") : null,
    h("div", { class: "grid" }, recent.items.map((a) =>
      h("a", { href: `/asset/${a.asset_id}` }, assetThumb(a), a.file_name))),
  );
}

export async function render(main, ctx) {
  const { params, navigate } = ctx;
  const collections = await api("/collections").catch(() => []);
  const active = described(params);
  const input = h("input", { type: "search", name: "q", value: params.get("q") || "", "aria-label": "Search the catalog", placeholder: "Search videos, audio, images, documents…", autocomplete: "off", enterkeyhint: "search" });
  const filters = filtersForm(params, collections);
  filters.hidden = !active.length;
  const toggle = h("button", { type: "button", class: "ghost", "aria-expanded": String(!filters.hidden), "aria-controls": "filters" }, active.length ? `Filters (${active.length})` : "Filters");
  toggle.addEventListener("click", () => {
    filters.hidden = !filters.hidden;
    toggle.setAttribute("aria-expanded", String(!filters.hidden));
  });
  const sort = h("select", { id: "sort", "aria-label": "Sort results" }, SORTS.map(([v, label]) => h("option", { value: v, selected: (params.get("sort") || "relevance") === v }, label)));
  const submit = (e) => {
    e?.preventDefault();
    const next = paramsFrom(filters, input.value.trim(), sort.value);
    navigate(next.toString() ? `/?${next}` : "/");
  };
  const form = h("form", { class: "searchbar", role: "search", onsubmit: submit }, input, h("button", { type: "submit" }, "Search"), toggle);
  sort.addEventListener("change", submit);
  filters.addEventListener("change", submit);
  const box = h("section", { "aria-live": "polite", "aria-busy": "false" });
  clear(main, h("h1", { class: "sr-title" }, "Search"), form, filters, h("div", { class: "summary" }, h("span", { class: "muted small" }, active.length ? `Filtered by ${active.join(", ")}` : ""), h("label", { class: "row" }, "Sort ", sort)), box);
  if (!document.body.dataset.slashBound) {
    document.body.dataset.slashBound = "1";
    document.addEventListener("keydown", (e) => {
      const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName);
      if (e.key === "/" && !typing) {
        const q = document.querySelector('input[name="q"]');
        if (q) {
          e.preventDefault();
          q.focus();
        }
      }
    });
  }
  if (params.get("q")) await showResults(box, params, ctx);
  else {
    input.focus();
    await showRecent(box);
  }
}
