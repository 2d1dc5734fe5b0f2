// Collections in the library: create, open (its items), rename, delete, share, and search
// within one.
import { api } from "./api.js";
import { assetThumb, clear, h, toast } from "./dom.js";

async function openOne(box, ctx, id) {
  const c = await api(`/collections/${id}`);
  const items = await Promise.all(c.asset_ids.slice(0, 60).map((a) => api(`/assets/${a}`).then((d) => d.asset).catch(() => null)));
  const user = h("input", { type: "text", id: "coll-share-user", placeholder: "user name", "aria-label": "Share collection with user" });
  const share = async (e) => {
    e.preventDefault();
    try {
      await api(`/collections/${id}/shares`, { method: "POST", json: { user: user.value.trim() } });
      toast(`Shared with ${user.value.trim()}`);
      openOne(box, ctx, id);
    } catch (err) {
      toast(err.message);
    }
  };
  const rename = async () => {
    const name = prompt("New name", c.name);
    if (name) await api(`/collections/${id}`, { method: "PATCH", json: { name } }).catch((e) => toast(e.message));
    openOne(box, ctx, id);
  };
  const remove = async () => {
    if (!confirm(`Delete the collection ${c.name}? Its assets stay.`)) return;
    await api(`/collections/${id}`, { method: "DELETE" }).catch((e) => toast(e.message));
    ctx.navigate("/library?view=collections");
  };
  clear(box,
    h("h2", { class: "break" }, c.name),
    h("div", { class: "actions" }, h("a", { class: "button", href: `/?coll=${id}` }, "Search in it"),
      c.mine || ctx.session.mode === "open" ? [h("button", { type: "button", class: "ghost", onclick: rename }, "Rename"), h("button", { type: "button", class: "danger", onclick: remove }, "Delete")] : null),
    c.shared_with.length ? h("p", { class: "small muted" }, `Shared with ${c.shared_with.join(", ")}`) : null,
    c.mine || ctx.session.mode === "open" ? h("form", { class: "row", onsubmit: share }, user, h("button", { type: "submit" }, "Share")) : null,
    items.some(Boolean)
      ? h("div", { class: "grid" }, items.filter(Boolean).map((a) => h("a", { href: `/asset/${a.asset_id}` }, assetThumb(a), a.file_name)))
      : h("p", { class: "muted" }, "Nothing in it that you may see."));
}

export async function collectionsView(box, ctx) {
  const id = ctx.params.get("collection");
  if (id) return openOne(box, ctx, id);
  const all = await api("/collections");
  const name = h("input", { type: "text", placeholder: "New collection", "aria-label": "New collection name" });
  const create = async (e) => {
    e.preventDefault();
    if (!name.value.trim()) return;
    try {
      const c = await api("/collections", { method: "POST", json: { name: name.value.trim() } });
      ctx.navigate(`/library?collection=${c.id}`);
    } catch (err) {
      toast(err.message);
    }
  };
  clear(box,
    ctx.session.can("collections:manage") ? h("form", { class: "row", onsubmit: create }, name, h("button", { type: "submit" }, "Create")) : null,
    all.length
      ? h("ul", { class: "results" }, all.map((c) => h("li", { class: "panel" }, h("a", { href: `/library?collection=${c.id}`, class: "break" }, c.name),
          h("span", { class: "muted small" }, ` · ${c.asset_ids.length} item${c.asset_ids.length === 1 ? "" : "s"}${c.mine ? "" : " · shared with you"}`))))
      : h("p", { class: "muted" }, "No collections yet."));
}
