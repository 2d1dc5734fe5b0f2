// Sign in with a local account: the server sets the session cookies; the page never sees
// a token.
import { ApiError } from "./api.js";
import { clear, h } from "./dom.js";

function target(params) {
  const next = params.get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export async function render(main, ctx) {
  if (ctx.session.mode === "open" || ctx.session.user) return ctx.navigate(target(ctx.params), { replace: true });
  const error = h("p", { class: "error", role: "alert" });
  const name = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = async (e) => {
    e.preventDefault();
    error.textContent = "";
    const body = new URLSearchParams({ username: name.value, password: password.value });
    const resp = await fetch("/auth/session", { method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!resp.ok) {
      const data = await resp.json().catch(() => ({}));
      error.textContent = new ApiError(resp.status, data.detail || resp.statusText).message;
      return;
    }
    await ctx.reload();
    ctx.navigate(target(ctx.params), { replace: true });
  };
  clear(main, h("form", { class: "signin panel", onsubmit: submit },
    h("h1", null, "Sign in"),
    h("div", null, h("label", { for: "username" }, "Name"), name),
    h("div", null, h("label", { for: "password" }, "Password"), password),
    error, h("button", { type: "submit" }, "Sign in")));
  name.focus();
}
