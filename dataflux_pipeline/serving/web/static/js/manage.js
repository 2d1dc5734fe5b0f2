// What an asset page lets its owners do: collections, sharing and visibility, re-analyze
// and delete. Each control calls the JSON API and redraws its own box.
import { api } from "./api.js";
import { clear, h, toast } from "./dom.js";

function label(l) {
  return l === "public" ? "everyone" : l;
}

export function collectionsBox(detail, session) {
  const box = h("section", { class: "panel", id: "collections" });
  const draw = async (inside) => {
    const mine = session.can("collections:manage") ? await api("/collections").catch(() => []) : [];
    const own = mine.filter((c) => c.mine || session.mode === "open");
    const choose = h("select", { id: "coll-pick", "aria-label": "Collection" }, h("option", { value: "" }, "New collection…"),
      own.map((c) => h("option", { value: String(c.id) }, c.name)));
    const name = h("input", { id: "coll-name", type: "text", placeholder: "New collection name", "aria-label": "New collection name" });
    choose.addEventListener("change", () => (name.hidden = Boolean(choose.value)));
    const add = async (e) => {
      e.preventDefault();
      try {
        let id = choose.value;
        if (!id) {
          if (!name.value.trim()) return toast("Name the new collection");
          id = (await api("/collections", { method: "POST", json: { name: name.value.trim() } })).id;
        }
        const after = await api(`/collections/${id}/items`, { method: "POST", json: { asset_ids: [detail.asset.asset_id] } });
        toast(`Added to ${after.name}`);
        draw([...inside.filter((c) => c.id !== after.id), { id: after.id, name: after.name }]);
      } catch (err) {
        toast(err.message);
      }
    };
    clear(
      box,
      h("h2", null, "Collections"),
      inside.length
        ? h("ul", null, inside.map((c) => h("li", null, h("a", { href: `/library?collection=${c.id}` }, c.name))))
        : h("p", { class: "muted" }, "In no collection."),
      session.can("collections:manage")
        ? h("form", { class: "row", onsubmit: add }, choose, name, h("button", { type: "submit" }, "Add to collection"))
        : null,
    );
  };
  draw(detail.collections);
  return box;
}

export function sharingBox(detail) {
  const id = detail.asset.asset_id;
  const box = h("section", { class: "panel", id: "sharing" });
  const draw = (access) => {
    const vis = h("select", { id: "visibility", "aria-label": "Who may see it" },
      ["private", "shared", "public"].map((v) => h("option", { value: v, selected: access.visibility === v }, v)));
    vis.addEventListener("change", async () => {
      try {
        draw(await api(`/assets/${id}/visibility`, { method: "PUT", json: { visibility: vis.value } }));
        toast(`Now ${vis.value}`);
      } catch (err) {
        toast(err.message);
      }
    });
    const user = h("input", { id: "share-user", type: "text", placeholder: "user name", "aria-label": "Share with user", autocomplete: "off" });
    const share = async (e) => {
      e.preventDefault();
      try {
        draw(await api(`/assets/${id}/shares`, { method: "POST", json: { user: user.value.trim() } }));
        toast(`Shared with ${user.value.trim()}`);
      } catch (err) {
        toast(err.message);
      }
    };
    const unshare = (l) => async () => {
      try {
        draw(await api(`/assets/${id}/shares/${encodeURIComponent(l)}`, { method: "DELETE" }));
      } catch (err) {
        toast(err.message);
      }
    };
    clear(
      box,
      h("h2", null, "Sharing"),
      h("div", { class: "row" }, h("label", { for: "visibility" }, "Visibility"), vis),
      h("p", { class: "small muted" }, `Owners: ${access.owners.map(label).join(", ") || "none"}`),
      h("ul", { id: "shared-with" }, access.shared_with.map((l) =>
        h("li", null, `${l} `, h("button", { type: "button", class: "ghost", onclick: unshare(l), "aria-label": `Stop sharing with ${l}` }, "Remove")))),
      h("form", { class: "row", onsubmit: share }, user, h("button", { type: "submit" }, "Share")),
    );
  };
  draw(detail.access);
  return box;
}

export function actions(detail, navigate) {
  const id = detail.asset.asset_id;
  const reanalyze = async () => {
    try {
      await api(`/assets/${id}/analyze`, { method: "POST" });
      toast("Queued for analysis; search keeps the current one until it is done");
    } catch (err) {
      toast(err.message);
    }
  };
  const remove = async () => {
    if (!confirm(`Delete ${detail.asset.file_name}? It leaves search at once.`)) return;
    try {
      await api(`/assets/${id}`, { method: "DELETE" });
      toast("Deleted");
      navigate("/library");
    } catch (err) {
      toast(err.message);
    }
  };
  return [
    h("button", { type: "button", class: "ghost", onclick: reanalyze }, "Re-analyze"),
    h("button", { type: "button", class: "danger", onclick: remove }, "Delete"),
  ];
}
