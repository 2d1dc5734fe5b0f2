// The asset page's timeline: one lane per kind of segment (shots, subtitle cues, speech,
// audio windows), each segment a button that seeks the player there; a play head follows.
import { h } from "./dom.js";
import { timecode } from "./format.js";

const LANES = [
  ["shot", "Shots", ["shot"]],
  ["cue", "Subtitles", ["cue"]],
  ["speech", "Speech", ["speech", "transcript"]],
  ["window", "Audio", ["window"]],
];
const MAX_BUTTONS = 400; // per lane: a long file's windows would swamp the page

export function timeline(segments, player, total) {
  const end = total || Math.max(0, ...segments.map((s) => s.end_s || s.start_s || 0));
  if (!end || !player) return null;
  const heads = [];
  const lanes = [];
  for (const [css, name, kinds] of LANES) {
    const segs = segments.filter((s) => kinds.includes(s.kind) && s.start_s !== null).slice(0, MAX_BUTTONS);
    if (!segs.length) continue;
    const track = h("div", { class: `track ${css}`, role: "group", "aria-label": name });
    for (const seg of segs) {
      const start = seg.start_s;
      const stop = Math.max(seg.end_s ?? start, start + end / 400);
      const label = `${name.replace(/s$/, "")} at ${timecode(start)}${seg.text ? `: ${seg.text.slice(0, 80)}` : ""}`;
      const button = h("button", { type: "button", title: label, "aria-label": label, dataset: { start: String(start) } });
      button.style.left = `${(start / end) * 100}%`;
      button.style.width = `${((stop - start) / end) * 100}%`;
      button.addEventListener("click", () => {
        player.currentTime = start;
        player.play().catch(() => null);
      });
      track.append(button);
    }
    const head = h("div", { class: "playhead", "aria-hidden": "true" });
    heads.push(head);
    track.append(head);
    lanes.push(h("div", { class: "lane" }, h("span", { class: "name" }, name), track));
  }
  if (!lanes.length) return null;
  const move = () => {
    for (const head of heads) head.style.left = `${Math.min(100, (player.currentTime / end) * 100)}%`;
  };
  player.addEventListener("timeupdate", move);
  player.addEventListener("seeked", move);
  return h("section", { class: "panel", "aria-labelledby": "tl-title" }, h("h2", { id: "tl-title" }, "Timeline"), h("div", { class: "timeline" }, lanes));
}
