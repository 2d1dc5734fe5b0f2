// How numbers, sizes, times and dates read on the pages.

export function timecode(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const t = Math.max(0, Math.floor(seconds));
  const hh = Math.floor(t / 3600);
  const mm = Math.floor((t % 3600) / 60);
  const ss = String(t % 60).padStart(2, "0");
  return hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

export function duration(seconds) {
  if (!seconds && seconds !== 0) return "";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  return timecode(seconds);
}

export function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return `${v.toFixed(v < 10 && i ? 1 : 0)} ${units[i]}`;
}

export function date(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleString();
}

export function hours(h) {
  if (h * 60 < 1) return `${Math.round(h * 3600)} s`;
  return h < 1 ? `${Math.round(h * 60)} min` : `${h.toFixed(1)} h`;
}

/** What a person calls the pipeline's states. */
const STAGE_NAMES = {
  queued: "queued",
  processing: "analyzing",
  analyzing: "analyzing",
  completed: "searchable",
  searchable: "searchable",
  failed: "failed",
  skipped: "skipped",
};

export function stageChip(state) {
  const name = STAGE_NAMES[state] || state;
  const tone = { searchable: "ok", failed: "bad", skipped: "warn" }[name] || "";
  return { name, tone };
}
