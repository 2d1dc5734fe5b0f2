// The search filters: a form whose state lives in the address (so a search can be
// bookmarked or shared) and turns into the API's `media_types`, `filters` and
// `collection_id`.
import { h } from "./dom.js";

export const MEDIA = ["video", "audio", "image", "document"];
const KEYS = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
export const SORTS = [
  ["relevance", "Best match"],
  ["newest", "Newest"],
  ["oldest", "Oldest"],
  ["longest", "Longest"],
  ["shortest", "Shortest"],
  ["largest", "Largest"],
  ["name", "Name"],
];
// address parameter -> form field
const NUMBERS = ["dmin", "dmax", "tmin", "tmax", "smin", "smax"];
const TEXTS = ["from", "to", "key", "mode", "coll", "owner"];

function num(params, name, scale = 1) {
  const v = params.get(name);
  return v === null || v === "" || Number.isNaN(Number(v)) ? null : Number(v) * scale;
}

function range(min, max) {
  return min === null && max === null ? null : { min, max };
}

/** The API request for the address's query and filters. */
export function requestFrom(params) {
  const filters = {};
  const dur = range(num(params, "dmin", 60), num(params, "dmax", 60));
  if (dur) filters.duration_s = dur;
  const tempo = range(num(params, "tmin"), num(params, "tmax"));
  if (tempo) filters.tempo_bpm = tempo;
  const size = range(num(params, "smin", 1e6), num(params, "smax", 1e6));
  if (size) filters.size_bytes = size;
  if (params.get("from") || params.get("to")) {
    filters.arrived_at = {};
    if (params.get("from")) filters.arrived_at.from = `${params.get("from")}T00:00:00Z`;
    if (params.get("to")) filters.arrived_at.to = `${params.get("to")}T23:59:59Z`;
  }
  if (params.get("key")) filters.key = [params.get("key")];
  if (params.get("mode")) filters.mode = params.get("mode");
  if (params.get("owner")) filters.owners = [params.get("owner")];
  const types = (params.get("type") || "").split(",").filter((t) => MEDIA.includes(t));
  const req = { query: params.get("q") || "" };
  if (types.length) req.media_types = types;
  if (Object.keys(filters).length) req.filters = filters;
  if (params.get("coll")) req.collection_id = Number(params.get("coll"));
  return req;
}

/** Which filters are on, in words (for the summary and the empty page). */
export function described(params) {
  const out = [];
  if (params.get("type")) out.push(`type ${params.get("type").replaceAll(",", " or ")}`);
  if (params.get("dmin") || params.get("dmax")) out.push("duration");
  if (params.get("from") || params.get("to")) out.push("date");
  if (params.get("tmin") || params.get("tmax")) out.push("tempo");
  if (params.get("key") || params.get("mode")) out.push("key");
  if (params.get("smin") || params.get("smax")) out.push("size");
  if (params.get("coll")) out.push("collection");
  if (params.get("owner")) out.push(`owner ${params.get("owner")}`);
  return out;
}

export function withoutFilters(params) {
  const next = new URLSearchParams();
  if (params.get("q")) next.set("q", params.get("q"));
  return next;
}

function field(label, input) {
  return h("div", null, h("label", { for: input.id }, label), input);
}

function pair(legend, a, b, unit) {
  const input = (name, hint) =>
    h("input", { type: "number", min: 0, step: "any", name, id: `f-${name}`, placeholder: hint, "aria-label": `${legend} ${hint} (${unit})` });
  return h("fieldset", null, h("legend", null, `${legend} (${unit})`), h("div", { class: "pair" }, input(a, "min"), input(b, "max")));
}

/** The filters form, filled from the address. */
export function filtersForm(params, collections) {
  const types = new Set((params.get("type") || "").split(","));
  const form = h(
    "div",
    { class: "filters panel", id: "filters" },
    h(
      "fieldset",
      null,
      h("legend", null, "Media type"),
      h(
        "div",
        { class: "checks" },
        MEDIA.map((m) => h("label", null, h("input", { type: "checkbox", name: "type", value: m, checked: types.has(m) }), m)),
      ),
    ),
    pair("Duration", "dmin", "dmax", "minutes"),
    h("fieldset", null, h("legend", null, "Added"), h("div", { class: "pair" },
      h("input", { type: "date", name: "from", id: "f-from", "aria-label": "Added from" }),
      h("input", { type: "date", name: "to", id: "f-to", "aria-label": "Added until" }))),
    pair("Tempo", "tmin", "tmax", "BPM"),
    h("fieldset", null, h("legend", null, "Key"), h("div", { class: "pair" },
      h("select", { name: "key", id: "f-key", "aria-label": "Key" }, h("option", { value: "" }, "any"), KEYS.map((k) => h("option", { value: k }, k))),
      h("select", { name: "mode", id: "f-mode", "aria-label": "Mode" }, h("option", { value: "" }, "any"), h("option", { value: "major" }, "major"), h("option", { value: "minor" }, "minor")))),
    pair("Size", "smin", "smax", "MB"),
    field("Collection", h("select", { name: "coll", id: "f-coll" }, h("option", { value: "" }, "all"),
      collections.map((c) => h("option", { value: String(c.id) }, c.name)))),
    field("Owner", h("input", { type: "text", name: "owner", id: "f-owner", placeholder: "user name", autocomplete: "off" })),
  );
  for (const name of [...NUMBERS, ...TEXTS]) {
    const input = form.querySelector(`[name="${name}"]`);
    if (input && params.get(name)) input.value = params.get(name);
  }
  return form;
}

/** The address parameters the form holds now. */
export function paramsFrom(form, query, sort) {
  const out = new URLSearchParams();
  if (query) out.set("q", query);
  const types = [...form.querySelectorAll('[name="type"]:checked')].map((i) => i.value);
  if (types.length) out.set("type", types.join(","));
  for (const name of [...NUMBERS, ...TEXTS]) {
    const value = form.querySelector(`[name="${name}"]`)?.value.trim();
    if (value) out.set(name, value);
  }
  if (sort && sort !== "relevance") out.set("sort", sort);
  return out;
}
