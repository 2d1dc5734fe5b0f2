// The shell: who is signed in, the navigation, the theme, and a client-side router that
// loads each page's module only when it is first shown (the search page loads alone).
import { api } from "./api.js";
import { clear, h } from "./dom.js";

const ROUTES = [
  [/^\/$/, () => import("./search.js")],
  [/^\/asset\/([0-9a-f]{8,64}|unreadable-[0-9a-f]{48})$/, () => import("./asset.js")],
  [/^\/upload$/, () => import("./upload.js")],
  [/^\/library$/, () => import("./library.js")],
  [/^\/overview$/, () => import("./overview.js")],
  [/^\/admin$/, () => import("./admin.js")],
  [/^\/signin$/, () => import("./signin.js")],
];
const NAV = [
  ["/", "Search", () => true],
  ["/upload", "Upload", (s) => s.can("assets:write")],
  ["/library", "Library", () => true],
  ["/overview", "Overview", () => true],
  ["/admin", "Admin", (s) => s.can("users:manage")],
];

/** Who is asking: open mode (no sign-in at all), a signed-in user, or nobody yet. */
const session = {
  mode: "open",
  user: null,
  can(scope) {
    return this.mode === "open" || Boolean(this.user && this.user.scopes.includes(scope));
  },
  get signedIn() {
    return this.mode === "open" || this.user !== null;
  },
};

async function loadSession() {
  const health = await api("/health").catch(() => ({ auth: "accounts" }));
  session.mode = health.auth;
  session.user = null;
  if (session.mode === "accounts") {
    session.user = await api("/auth/me").catch(() => null);
  }
  renderChrome();
}

function renderChrome() {
  const path = location.pathname;
  clear(
    document.getElementById("nav"),
    NAV.filter(([, , shown]) => session.signedIn && shown(session)).map(([href, label]) =>
      h("a", { href, "aria-current": href === path ? "page" : null }, label),
    ),
  );
  const box = document.getElementById("session");
  if (session.mode === "open") return clear(box);
  if (!session.user) return clear(box, h("a", { href: "/signin" }, "Sign in"));
  clear(
    box,
    h("span", { class: "muted small" }, `${session.user.name} · ${session.user.role}`),
    h("button", { type: "button", class: "ghost", onclick: signOut }, "Sign out"),
  );
}

async function signOut() {
  await api("/auth/session", { method: "DELETE" }).catch(() => null);
  session.user = null;
  navigate("/signin");
}

function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  route();
}

let current = 0;
async function route() {
  const turn = ++current;
  const path = location.pathname;
  renderChrome();
  const main = document.getElementById("main");
  if (!session.signedIn && path !== "/signin") {
    return navigate(`/signin?next=${encodeURIComponent(path + location.search)}`, { replace: true });
  }
  const found = ROUTES.find(([pattern]) => pattern.test(path));
  if (!found) return clear(main, h("h1", null, "Not found"), h("a", { href: "/" }, "Search"));
  const [pattern, load] = found;
  const page = await load();
  if (turn !== current) return; // a newer navigation won
  const params = new URLSearchParams(location.search);
  try {
    const ctx = { match: path.match(pattern), params, session, navigate, reload: loadSession };
    await page.render(main, ctx);
  } catch (err) {
    clear(main, h("h1", null, "Something went wrong"), h("p", { class: "error" }, err.message));
  }
}

function theme() {
  const saved = localStorage.getItem("dataflux-theme");
  if (saved) document.documentElement.dataset.theme = saved;
  document.getElementById("theme").addEventListener("click", () => {
    const dark =
      document.documentElement.dataset.theme === "dark" ||
      (!document.documentElement.dataset.theme && matchMedia("(prefers-color-scheme: dark)").matches);
    const next = dark ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("dataflux-theme", next);
  });
}

// internal links change the page without a reload
document.addEventListener("click", (e) => {
  const a = e.target.closest("a[href]");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || a.target || a.hasAttribute("download")) return;
  if (url.pathname.startsWith("/media/") || url.pathname.startsWith("/docs")) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener("popstate", route);
document.addEventListener("dataflux:signed-out", () => {
  if (session.mode === "accounts" && session.user) {
    session.user = null;
    navigate(`/signin?next=${encodeURIComponent(location.pathname + location.search)}`);
  }
});

theme();
loadSession().then(route);
