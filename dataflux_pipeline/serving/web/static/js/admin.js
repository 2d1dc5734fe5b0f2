// For admins: the users (create, change role, disable) and the audit log.
import { api } from "./api.js";
import { clear, h, toast } from "./dom.js";
import { date } from "./format.js";

const ROLES = ["viewer", "editor", "admin"];

async function users(box) {
  const list = await api("/users");
  const name = h("input", { type: "text", id: "new-user", placeholder: "name", "aria-label": "New user's name", autocomplete: "off" });
  const password = h("input", { type: "password", id: "new-password", placeholder: "password (10+ characters)", "aria-label": "New user's password", autocomplete: "new-password" });
  const role = h("select", { "aria-label": "New user's role" }, ROLES.map((r) => h("option", { value: r }, r)));
  const create = async (e) => {
    e.preventDefault();
    try {
      await api("/users", { method: "POST", json: { name: name.value.trim(), password: password.value, role: role.value } });
      toast(`Created ${name.value.trim()}`);
      if (box.dataset.open === "1") return location.assign("/signin");
      users(box);
    } catch (err) {
      toast(err.message);
    }
  };
  const change = (u, body) => async () => {
    try {
      await api(`/users/${encodeURIComponent(u.name)}`, { method: "PATCH", json: body });
      users(box);
    } catch (err) {
      toast(err.message);
    }
  };
  const open = box.dataset.open === "1";
  if (open) role.value = "admin";
  clear(box, h("h2", null, "Users"),
    open ? h("p", { class: "small" }, "The service is open (no accounts). The first user you add ends that: make them an admin, then sign in as them.") : null,
    h("form", { class: "row", onsubmit: create }, name, password, role, h("button", { type: "submit" }, "Add user")),
    h("div", { class: "scroll-x" }, h("table", null,
      h("thead", null, h("tr", null, ["Name", "Role", "Groups", "State", ""].map((c) => h("th", null, c)))),
      h("tbody", null, list.map((u) => {
        const pick = h("select", { "aria-label": `Role of ${u.name}` }, ROLES.map((r) => h("option", { value: r, selected: r === u.role }, r)));
        pick.addEventListener("change", () => change(u, { role: pick.value })());
        return h("tr", null, h("td", { class: "break" }, u.name), h("td", null, pick), h("td", null, u.groups.join(", ")),
          h("td", null, u.disabled ? "disabled" : "active"),
          h("td", null, h("button", { type: "button", class: "ghost", onclick: change(u, { disabled: !u.disabled }) }, u.disabled ? "Enable" : "Disable")));
      })))));
}

async function audit(box, offset = 0) {
  const page = await api(`/audit?limit=50&offset=${offset}`);
  clear(box, h("h2", null, "Audit log"),
    h("div", { class: "scroll-x" }, h("table", null,
      h("thead", null, h("tr", null, ["When", "Who", "What", "Target", "From"].map((c) => h("th", null, c)))),
      h("tbody", null, page.items.map((e) => h("tr", null, h("td", null, date(e.at)), h("td", { class: "break" }, e.actor),
        h("td", null, e.action), h("td", { class: "break" }, e.target || ""), h("td", null, e.address || "")))))),
    h("div", { class: "pager" },
      offset ? h("button", { type: "button", class: "ghost", onclick: () => audit(box, Math.max(0, offset - 50)) }, "Newer") : null,
      page.more ? h("button", { type: "button", class: "ghost", onclick: () => audit(box, offset + 50) }, "Older") : null));
}

export async function render(main, ctx) {
  if (!ctx.session.can("users:manage")) return clear(main, h("h1", null, "Admin"), h("p", null, "Only administrators see this page."));
  const usersBox = h("section", { class: "panel", dataset: { open: ctx.session.mode === "open" ? "1" : "0" } });
  const auditBox = h("section", { class: "panel" });
  clear(main, h("h1", null, "Admin"), usersBox, auditBox);
  await Promise.all([users(usersBox), ctx.session.can("audit:read") ? audit(auditBox) : null]);
}
