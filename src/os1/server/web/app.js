// OS1 web app: vanilla JS, no build step, no third-party requests. All text goes into the
// page with textContent (never innerHTML), so nothing a user or model writes can run.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { info: null, me: null, csrf: null, ws: null, identity: null, outbox: new Map(),
  current: null, retry: 0, signup: false, seq: 0, typing: false };

// ---- HTTP ------------------------------------------------------------------------------
async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (state.csrf && method !== "GET") headers["X-CSRF-Token"] = state.csrf;
  const res = await fetch(path, { method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  if (!res.ok) {
    const detail = data && typeof data.detail === "string" ? data.detail : "Something went wrong; please try again.";
    const err = new Error(detail); err.status = res.status; throw err;
  }
  return data;
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}
const when = (iso) => new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });

// ---- sign in / sign up ------------------------------------------------------------------
function showWelcome() {
  $("app").hidden = true; $("welcome").hidden = false;
  $("auth-switch").hidden = !state.info.open_signup;
  setAuthMode(false);
}
function setAuthMode(signup) {
  state.signup = signup;
  $("auth-submit").textContent = signup ? "Create my account" : "Sign in";
  $("auth-switch").textContent = signup ? "I already have an account" : "New here? Create an account";
  $("auth-password").autocomplete = signup ? "new-password" : "current-password";
  $("auth-error").textContent = "";
}
$("auth-switch").addEventListener("click", () => setAuthMode(!state.signup));
$("auth-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = { name: $("auth-name").value.trim(), password: $("auth-password").value };
  if (!body.name || !body.password) { $("auth-error").textContent = "Please fill in both."; return; }
  $("auth-submit").disabled = true;
  try {
    const me = await api("POST", state.signup ? "/api/signup" : "/api/login", body);
    $("auth-password").value = "";
    await enter(me);
  } catch (err) { $("auth-error").textContent = err.message; }
  finally { $("auth-submit").disabled = false; }
});

async function enter(me) {
  state.me = me; state.csrf = me.csrf_token;
  $("welcome").hidden = true; $("app").hidden = false;
  $("tab-memory").hidden = !state.info.memory;
  $("mic").hidden = !state.info.voice; $("handsfree-row").hidden = !state.info.voice;
  $("log").replaceChildren();
  await Promise.all([loadHistory(), loadIdentity()]);
  connect();
  route();
}

// ---- conversation -----------------------------------------------------------------------
function addLine(role, text, extra) {
  const node = el("div", `msg ${role === "user" ? "you" : role === "assistant" ? "os" : role}`, text);
  if (extra) node.classList.add(extra);
  $("log").appendChild(node);
  node.scrollIntoView({ block: "end", behavior: "smooth" });
  return node;
}
async function loadHistory() {
  const messages = await api("GET", "/api/history?limit=200");
  let day = "";
  for (const m of messages) {
    const d = new Date(m.created_at).toLocaleDateString([], { weekday: "long", month: "long", day: "numeric" });
    if (d !== day) { $("log").appendChild(el("div", "day", d)); day = d; }
    addLine(m.role, m.content, m.status === "interrupted" ? "interrupted" : null);
  }
  state.hadHistory = messages.length > 0;
}
function setStatus(text) { $("status").textContent = text || ""; }
function speaking(on) { document.querySelector(".dot").classList.toggle("speaking", on); }

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/conversation`);
  state.ws = ws;
  ws.onopen = () => { state.retry = 0; state.typing = false; setStatus(""); };
  ws.onmessage = (ev) => { let f; try { f = JSON.parse(ev.data); } catch (_) { return; } onFrame(f); };
  ws.onclose = (ev) => {
    if (state.ws !== ws) return;
    state.ws = null; speaking(false);
    if (ev.code === 4401) { showWelcome(); return; }
    const wait = Math.min(10000, 500 * 2 ** state.retry++);
    setStatus("Reconnecting…");
    setTimeout(() => { if (!state.ws && state.me) connect(); }, wait);
  };
}
function send(frame) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) { state.ws.send(JSON.stringify(frame)); return true; }
  return false;
}
function onFrame(f) {
  switch (f.type) {
    case "ready":
      setIdentity(f.identity);
      for (const [id, item] of state.outbox) send({ type: "say", text: item.text, client_id: id });
      if (!f.identity.onboarded && !state.hadHistory && !state.started) { state.started = true; send({ type: "start" }); }
      break;
    case "message_stored": {
      const item = state.outbox.get(f.client_id);
      if (item) { item.node.classList.remove("pending"); state.outbox.delete(f.client_id); }
      break;
    }
    case "turn_started":
      state.current = addLine("assistant", "", "streaming"); speaking(true); setStatus("");
      break;
    case "text_delta":
      if (!state.current) state.current = addLine("assistant", "", "streaming");
      state.current.textContent += f.text;
      state.current.scrollIntoView({ block: "end" });
      break;
    case "turn_ended":
      if (state.current) {
        state.current.textContent = f.text;
        state.current.classList.remove("streaming");
        if (f.status !== "complete") state.current.classList.add(f.status);
      }
      state.current = null; speaking(false);
      break;
    case "identity_changed":
      setIdentity(f); loadIdentity();
      break;
    case "error":
      if (f.code === "rate_limited") {
        setStatus(f.message);
        setTimeout(() => { for (const [id, item] of state.outbox) send({ type: "say", text: item.text, client_id: id }); },
          (f.retry_after || 2) * 1000);
      } else { addLine("error", f.message); }
      speaking(false);
      break;
    case "idle": speaking(false); break;
  }
}
function say(text) {
  const clientId = `c-${Date.now().toString(36)}-${(state.seq++).toString(36)}`;
  const node = addLine("user", text, "pending");
  state.outbox.set(clientId, { text, node });
  if (!send({ type: "say", text, client_id: clientId })) setStatus("Not connected; I'll send it when I'm back.");
}
$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("input").value.trim();
  if (!text) return;
  $("input").value = ""; grow(); state.typing = false;
  say(text);
});
function grow() { const t = $("input"); t.style.height = "auto"; t.style.height = `${Math.min(t.scrollHeight, 160)}px`; }
$("input").addEventListener("input", () => {
  grow();
  // The first keystroke of a message lets the server prepare its reply while it is typed.
  if (!state.typing && $("input").value.trim()) state.typing = send({ type: "typing" });
});
$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("composer").requestSubmit(); }
  if (e.key === "Escape" && state.current) send({ type: "stop" });
});

// ---- identity ---------------------------------------------------------------------------
function setIdentity(ident) {
  const name = ident.os_name || "OS1";
  $("os-name").textContent = name;
  document.title = ident.os_name ? `${ident.os_name} · OS1` : "OS1";
}
function facts(target, pairs) {
  target.replaceChildren();
  for (const [k, v] of pairs) { target.appendChild(el("dt", "", k)); target.appendChild(el("dd", "", v)); }
}
async function loadIdentity() {
  const ident = await api("GET", "/api/identity");
  state.identity = ident; setIdentity(ident);
  const voice = ident.voices.find((v) => v.id === ident.voice);
  $("identity-title").textContent = ident.os_name ? `I'm ${ident.os_name}` : "We haven't met yet";
  facts($("identity"), [["Name", ident.os_name || "not chosen yet"], ["Voice", voice ? `${voice.name} — ${voice.description}` : "not chosen yet"],
    ["I call you", ident.user_name || "—"], ["First meeting", ident.onboarded ? "complete" : "in progress"]]);
  const labels = { days: "Your days", people: "Your people", hopes: "What you'd like from me" };
  facts($("first-meeting"), Object.entries(ident.first_meeting).filter(([k]) => labels[k]).map(([k, v]) => [labels[k], v]));
  const hist = $("identity-history"); hist.replaceChildren();
  for (const c of ident.history) {
    const li = el("li", "", `${c.field.replace("_", " ")}: ${c.old_value || "—"} → ${c.new_value || "—"}`);
    li.appendChild(el("small", "", `${when(c.changed_at)}${c.reason ? " · " + c.reason : ""}`));
    hist.appendChild(li);
  }
  if (!ident.history.length) hist.appendChild(el("li", "", "Nothing yet."));
  const voices = $("voices"); voices.replaceChildren();
  for (const v of ident.voices) {
    const b = el("button", "", v.name); b.type = "button"; b.setAttribute("role", "radio");
    b.setAttribute("aria-checked", String(v.id === ident.voice));
    b.appendChild(el("small", "", v.description));
    b.addEventListener("click", async () => {
      try { await api("PUT", "/api/identity/voice", { voice: v.id }); await loadIdentity(); note(`I'll speak as ${v.name} now.`); }
      catch (err) { note(err.message); }
    });
    voices.appendChild(b);
  }
}

// ---- memory -----------------------------------------------------------------------------
async function loadMemory(q) {
  const list = $("memory-list"); list.replaceChildren();
  let items = [];
  try { items = await api("GET", q ? `/api/memory/search?q=${encodeURIComponent(q)}` : "/api/memory"); }
  catch (err) { list.appendChild(el("li", "empty", err.message)); return; }
  if (!items.length) list.appendChild(el("li", "empty", q ? "Nothing matches." : "Nothing yet. I remember as we talk."));
  for (const m of items) {
    const li = el("li"); const body = el("div", "", m.text);
    body.appendChild(el("small", "", [m.kind, m.created_at ? when(m.created_at) : ""].filter(Boolean).join(" · ")));
    const forget = el("button", "forget", "Forget"); forget.type = "button";
    forget.addEventListener("click", async () => {
      forget.disabled = true;
      try { await api("DELETE", `/api/memory/${encodeURIComponent(m.id)}`); li.remove(); }
      catch (err) { forget.disabled = false; forget.textContent = err.message; }
    });
    li.append(body, forget); list.appendChild(li);
  }
}
$("memory-search").addEventListener("submit", (e) => { e.preventDefault(); loadMemory($("memory-q").value.trim()); });

// ---- settings ---------------------------------------------------------------------------
function note(text) { $("settings-note").textContent = text; }
async function loadTokens() {
  const list = $("tokens"); list.replaceChildren();
  const tokens = await api("GET", "/api/tokens");
  if (!tokens.length) list.appendChild(el("li", "empty", "No API tokens."));
  for (const t of tokens) {
    const li = el("li"); const body = el("div", "", t.label);
    body.appendChild(el("small", "", `until ${when(t.expires_at)}`));
    const revoke = el("button", "forget", "Revoke"); revoke.type = "button";
    revoke.addEventListener("click", async () => { await api("DELETE", `/api/tokens/${t.id}`); loadTokens(); });
    li.append(body, revoke); list.appendChild(li);
  }
}
$("token-new").addEventListener("click", async () => {
  const t = await api("POST", "/api/tokens", { label: "api" });
  $("token-shown").hidden = false;
  $("token-shown").textContent = `Your new token (shown once): ${t.token}`;
  loadTokens();
});
$("password-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try { await api("POST", "/api/password", { current: $("pw-current").value, new: $("pw-new").value }); note("Password changed."); e.target.reset(); }
  catch (err) { note(err.message); }
});
$("logout").addEventListener("click", async () => {
  try { await api("POST", "/api/logout"); } catch (_) { /* signed out either way */ }
  signOut();
});
$("erase-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!confirm("Erase your account and everything of yours, for good?")) return;
  try { await api("POST", "/api/account/erase", { password: $("erase-password").value }); signOut(); }
  catch (err) { note(err.message); }
});
function signOut() {
  state.me = null; state.csrf = null; state.outbox.clear();
  const ws = state.ws; state.ws = null; if (ws) ws.close(1000);
  showWelcome();
}

// ---- views ------------------------------------------------------------------------------
function route() {
  if (!state.me) return;
  const view = (location.hash.replace("#/", "") || "talk");
  const known = ["talk", "memory", "identity", "settings"].includes(view) ? view : "talk";
  for (const name of ["talk", "memory", "identity", "settings"]) $(`view-${name}`).hidden = name !== known;
  for (const a of document.querySelectorAll(".tabs a")) a.classList.toggle("active", a.dataset.view === known);
  if (known === "memory") loadMemory("");
  if (known === "identity") loadIdentity();
  if (known === "settings") { loadIdentity(); loadTokens(); }
  if (known === "talk") $("input").focus();
}
window.addEventListener("hashchange", route);

(async function boot() {
  state.info = await api("GET", "/api/info");
  try { await enter(await api("GET", "/api/me")); }
  catch (err) { if (err.status === 401) showWelcome(); else { showWelcome(); $("auth-error").textContent = err.message; } }
})();
