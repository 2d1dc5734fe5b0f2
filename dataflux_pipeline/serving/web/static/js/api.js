// The JSON API from the pages. Cookie sessions: the browser holds the tokens (HttpOnly),
// the page sends the CSRF cookie's value back as X-CSRF-Token on every change, and an
// expired access cookie is renewed once, under a lock shared by every tab of the site
// (two tabs renewing with the same refresh token would look like a stolen token).

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : describe(detail));
    this.status = status;
    this.detail = detail;
  }
}

function describe(detail) {
  if (Array.isArray(detail)) return detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
  if (detail && typeof detail === "object") return detail.message || JSON.stringify(detail);
  return String(detail ?? "request failed");
}

export function csrfToken() {
  const found = document.cookie.split("; ").find((c) => c.startsWith("dataflux_csrf="));
  return found ? decodeURIComponent(found.split("=")[1]) : "";
}

function headersFor(method, extra) {
  const headers = { Accept: "application/json", ...extra };
  if (method !== "GET" && method !== "HEAD") {
    const token = csrfToken();
    if (token) headers["X-CSRF-Token"] = token;
  }
  return headers;
}

async function withLock(fn) {
  if (navigator.locks) return navigator.locks.request("dataflux-session", fn);
  return fn();
}

/** Renew the session cookies; false when there is no session to renew. */
async function refreshSession() {
  const resp = await fetch("/auth/session/refresh", {
    method: "POST",
    headers: headersFor("POST"),
    credentials: "same-origin",
  });
  return resp.ok;
}

async function send(path, init) {
  const resp = await fetch(path, init);
  if (resp.status !== 401 || !csrfToken()) return resp;
  // another tab may have renewed the cookies meanwhile: try again before renewing
  return withLock(async () => {
    const again = await fetch(path, { ...init, headers: headersFor(init.method, init.extra) });
    if (again.status !== 401) return again;
    if (!(await refreshSession())) return again;
    return fetch(path, { ...init, headers: headersFor(init.method, init.extra) });
  });
}

/** fetch + JSON: api("/search", {method: "POST", json: {...}}); throws ApiError. */
export async function api(path, { method = "GET", json, form, signal } = {}) {
  const extra = json !== undefined ? { "Content-Type": "application/json" } : {};
  let body;
  if (json !== undefined) body = JSON.stringify(json);
  else if (form !== undefined) body = form;
  const init = {
    method,
    body,
    signal,
    extra,
    credentials: "same-origin",
    headers: headersFor(method, extra),
  };
  const resp = await send(path, init);
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    if (resp.status === 401) document.dispatchEvent(new CustomEvent("dataflux:signed-out"));
    throw new ApiError(resp.status, data.detail ?? resp.statusText);
  }
  return data;
}

/** An upload with progress (fetch cannot report upload progress; XMLHttpRequest can). */
export function upload(form, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/assets");
    const token = csrfToken();
    if (token) xhr.setRequestHeader("X-CSRF-Token", token);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let data = {};
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = { detail: xhr.statusText };
      }
      resolve({ status: xhr.status, data });
    };
    xhr.onerror = () => resolve({ status: 0, data: { detail: "the connection failed" } });
    xhr.send(form);
  });
}
