// Building the page from data without ever parsing markup: every string from a file,
// its metadata or the server becomes a text node or an attribute value, so a file named
// `<img src=x onerror=alert(1)>.mp4` shows as those characters.

const SVG_NS = "http://www.w3.org/2000/svg";
const BLOCKED = new Set(["innerHTML", "outerHTML", "srcdoc"]);

function apply(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (BLOCKED.has(key)) throw new Error(`refusing to set ${key}`);
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.setAttribute("class", value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "href" || key === "src") {
      el.setAttribute(key, safeUrl(value));
    } else if (key === "value" || key === "checked" || key === "selected") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

function add(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An element: h("a", {href: "/"}, "text", child, [more]). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  apply(el, props);
  return add(el, children);
}

/** An SVG element (charts, the timeline's play head). */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  return add(el, children);
}

/** Only this site's own paths (never javascript:, data: or another host) become links. */
export function safeUrl(url) {
  const text = String(url);
  return text.startsWith("/") && !text.startsWith("//") ? text : "#";
}

export function clear(el, ...children) {
  el.replaceChildren();
  return add(el, children);
}

/** Search highlights come as text with <mark> around the query's words, the rest of the
 *  text not escaped: split on the two tags and make text nodes, never markup. */
export function marked(highlight) {
  const out = document.createDocumentFragment();
  let inside = false;
  for (const part of String(highlight).split(/(<mark>|<\/mark>)/)) {
    if (part === "<mark>") inside = true;
    else if (part === "</mark>") inside = false;
    else if (part) out.append(inside ? h("mark", null, part) : document.createTextNode(part));
  }
  return out;
}

export function toast(message) {
  const box = document.getElementById("toast");
  const note = h("p", null, message);
  box.append(note);
  setTimeout(() => note.remove(), 4000);
}

/** A thumbnail image with alt text, or a placeholder box when there is none. */
export function thumb(url, alt, label) {
  const none = () => h("div", { class: "thumb none", role: "img", "aria-label": alt }, label || "");
  if (!url) return none();
  const img = h("img", { class: "thumb", src: url, alt, loading: "lazy", decoding: "async" });
  img.addEventListener("error", () => img.replaceWith(none()), { once: true });
  return img;
}

/** An asset's own thumbnail (audio has none; a failed file may have none). */
export function assetThumb(a) {
  const url = a.thumbnail_url || (a.media_type === "audio" || a.state === "failed" ? null : `/thumbnails/${a.asset_id}`);
  return thumb(url, `Thumbnail of ${a.file_name || a.asset_id}`, a.media_type);
}
