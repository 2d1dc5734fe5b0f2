// Upload: drop many files (or pick them), each with a progress bar; subtitles, captions
// and artwork that share a file's name go up with it as its sidecars. Then the server
// pushes each file's stage (queued → analyzing → searchable, or failed with the reason)
// over server-sent events until it is searchable.
import { api, upload } from "./api.js";
import { clear, h } from "./dom.js";
import { bytes } from "./format.js";

const SIDECAR = /\.(srt|vtt|json|txt|nfo)$/i;
const ARTWORK = /\.(jpe?g|png|webp)$/i;
const TIMED = /\.(mp4|m4v|mov|mkv|webm|avi|wmv|mpg|mpeg|flv|3gp|mp3|m4a|aac|wav|flac|ogg|opus|wma|aiff?)$/i;
const STAGES = ["uploading", "queued", "analyzing", "searchable"];
const PARALLEL = 2;

const stem = (name) => name.split(".")[0].toLowerCase();

/** Files grouped as the pipeline pairs them: a primary and the sidecars sharing its stem. */
export function grouped(files) {
  const primaries = files.filter((f) => !SIDECAR.test(f.name) && !(ARTWORK.test(f.name) && files.some((o) => o !== f && TIMED.test(o.name) && stem(o.name) === stem(f.name))));
  const groups = primaries.map((file) => ({ file, sidecars: [] }));
  for (const f of files) {
    if (primaries.includes(f)) continue;
    const owner = groups.find((g) => stem(g.file.name) === stem(f.name));
    if (owner) owner.sidecars.push(f);
    else groups.push({ file: f, sidecars: [] });
  }
  return groups;
}

function stageRow(current, failed) {
  return h("div", { class: "stages" }, STAGES.map((s) => h("span", { class: "chip", "aria-current": s === current ? "step" : null }, s)),
    failed ? h("span", { class: "chip bad", "aria-current": "step" }, "failed") : null);
}

class Tracker {
  constructor() {
    this.rows = new Map(); // asset id -> row
    this.source = null;
  }

  watch(assetId, row) {
    this.rows.set(assetId, row);
    this.reconnect();
  }

  reconnect() {
    this.source?.close();
    const open = [...this.rows].filter(([, r]) => !r.final).map(([id]) => id);
    if (!open.length) return;
    const query = open.map((id) => `id=${encodeURIComponent(id)}`).join("&");
    this.source = new EventSource(`/events/assets?${query}`);
    this.source.addEventListener("stage", (e) => {
      const item = JSON.parse(e.data);
      const row = this.rows.get(item.asset_id);
      if (row) row.show(item);
    });
    this.source.addEventListener("done", () => this.source.close());
  }
}

function uploadRow(group) {
  const bar = h("progress", { max: 1, value: 0, "aria-label": `Upload progress of ${group.file.name}` });
  const status = h("div", { class: "small" });
  const stages = h("div");
  const names = [group.file.name, ...group.sidecars.map((s) => s.name)];
  const el = h("li", { class: "upload panel", dataset: { name: group.file.name } },
    h("div", { class: "head" }, h("strong", { class: "break file-name" }, names.join(" + ")), h("span", { class: "muted small" }, bytes(group.file.size))),
    bar, stages, status);
  const row = {
    el,
    final: false,
    progress(f) {
      bar.value = f;
    },
    show({ stage, error, asset_id: id }) {
      row.final = ["searchable", "failed", "skipped"].includes(stage);
      el.dataset.stage = stage;
      bar.value = 1;
      clear(stages, stageRow(stage === "failed" ? null : stage, stage === "failed"));
      clear(status,
        error ? h("span", { class: "error" }, error) : null,
        id && stage === "searchable" ? h("a", { href: `/asset/${id}` }, "Open") : null);
    },
  };
  clear(stages, stageRow("uploading"));
  return row;
}

async function send(group, visibility, row, tracker) {
  const form = new FormData();
  form.append("file", group.file, group.file.name);
  for (const s of group.sidecars) form.append("sidecar", s, s.name);
  form.append("visibility", visibility);
  const { status, data } = await upload(form, (f) => row.progress(f));
  if (status === 202 || status === 409) {
    row.show({ stage: status === 409 ? "analyzing" : "queued", asset_id: data.asset_id, error: status === 409 ? "already in the catalog" : null });
    tracker.watch(data.asset_id, row);
  } else {
    const detail = Array.isArray(data.detail) ? data.detail.map((d) => d.msg).join("; ") : data.detail;
    row.show({ stage: "failed", error: detail || `upload failed (${status})` });
  }
}

export async function render(main, ctx) {
  await api("/auth/me").catch(() => null); // renews an expired session before the uploads
  const list = h("ol", { class: "uploads", id: "uploads", "aria-live": "polite" });
  const tracker = new Tracker();
  const visibility = h("select", { id: "visibility" }, ["private", "shared", "public"].map((v) => h("option", { value: v }, v)));
  if (ctx.session.mode === "open") visibility.value = "public";
  const picker = h("input", { type: "file", multiple: true, id: "file-input", class: "sr-title" });
  const queue = [];
  let running = 0;
  const pump = () => {
    while (running < PARALLEL && queue.length) {
      const [group, row] = queue.shift();
      running += 1;
      send(group, visibility.value, row, tracker).finally(() => {
        running -= 1;
        pump();
      });
    }
  };
  const take = (files) => {
    for (const group of grouped([...files])) {
      const row = uploadRow(group);
      list.prepend(row.el);
      queue.push([group, row]);
    }
    pump();
  };
  picker.addEventListener("change", () => take(picker.files));
  const drop = h("div", { class: "drop", id: "drop" },
    h("p", null, "Drop files here"),
    h("p", { class: "muted small" }, "Videos, audio, images, documents; subtitles (.srt, .vtt) and captions named like a file go with it."),
    h("label", { for: "file-input", class: "button", tabindex: "0", role: "button" }, "Choose files"), picker);
  drop.querySelector("label").addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      picker.click();
    }
  });
  for (const name of ["dragenter", "dragover"]) drop.addEventListener(name, (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    take(e.dataTransfer.files);
  });
  clear(main, h("h1", null, "Upload"), drop, h("div", { class: "row" }, h("label", { for: "visibility" }, "Who may see them"), visibility), list);
}
