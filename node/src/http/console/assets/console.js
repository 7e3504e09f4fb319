// The operator console of the KIK-V datastation. Plain JavaScript, no dependencies: every page
// is built from the admin API's JSON with DOM calls (never innerHTML), so data cannot inject
// markup. The admin token arrives in the URL fragment, is kept in sessionStorage and removed
// from the address bar, and goes only into the Authorization header of our own requests.
"use strict";

const TEXT = {
  nl: {
    brand: "KIK-V datastation · beheer", navLabel: "Hoofdmenu", otherLanguage: "English",
    "nav.release": "Vrijgave", "nav.conversations": "Gesprekken", "nav.log": "Logboek",
    "nav.datasets": "Gegevens", "nav.profiles": "Profielen",
    loading: "Laden…", refresh: "Vernieuwen", close: "Sluiten", cancel: "Annuleren", yes: "ja", no: "nee",
    error: "Fout", none: "—",
    "token.missingTitle": "Niet aangemeld",
    "token.missing": "Open de console via de link die het commando `kikv console` op de node afdrukt; die link bevat het beheertoken.",
    "token.wrongTitle": "Token geweigerd",
    "token.wrong": "De node weigerde het beheertoken: het is onjuist, of de node is opnieuw gestart. Vraag met `kikv console` een nieuwe link.",
    "token.paste": "Of plak het token", "token.use": "Aanmelden",
    "release.title": "Vrijgave van antwoorden",
    "release.unavailable": "De vrijgavewachtrij is op deze node niet beschikbaar.",
    "release.empty": "Geen verzoeken in de wachtrij.",
    "release.pending": "Wachtend", "release.decided": "Recent besloten",
    "release.open": "Bekijken", "release.back": "Terug naar de wachtrij",
    "release.preview": "Voorbeeld van het antwoord (berekend uit de huidige gegevens)",
    "release.noPreview": "Geen voorbeeld: het verzoek is al afgehandeld.",
    "release.operator": "Uw naam (beheerder)",
    "release.approve": "Vrijgeven", "release.reject": "Weigeren…",
    "release.rejectTitle": "Verzoek weigeren", "release.reason": "Reden van weigering",
    "release.confirmReject": "Weigering versturen",
    "release.needOperator": "Vul eerst uw naam in.", "release.needReason": "Een reden is verplicht.",
    "release.approved": "Vrijgegeven en verzonden.", "release.rejected": "Geweigerd; de afnemer krijgt een foutbericht.",
    "release.thread": "Gesprek", "release.generation": "Generatie", "release.replyUrl": "Antwoordadres",
    "release.decidedAt": "Besloten op", "release.poll": "(de afnemer wacht op antwoord)",
    "state.pending": "wacht", "state.approved": "vrijgegeven", "state.rejected": "geweigerd", "state.expired": "verlopen",
    "col.answer": "Antwoord", "delivery.delivering": "wordt afgeleverd", "delivery.delivered": "afgeleverd",
    "delivery.sent_to_reply_address": "verstuurd naar antwoordadres", "delivery.awaiting_collection": "wacht op ophalen",
    "delivery.collected": "opgehaald",
    "col.consumer": "Afnemer", "col.profile": "Profiel", "col.indicator": "Indicator", "col.parameters": "Parameters",
    "col.received": "Ontvangen", "col.deadline": "Termijn", "col.left": "Resterend", "col.state": "Status",
    "col.decidedBy": "Besloten door", "col.reason": "Reden", "col.action": "Actie",
    "time.expired": "verlopen", "time.left": "{h} u {m} min",
    "conv.title": "Gesprekken", "conv.lookup": "Gesprek (thread id)", "conv.show": "Tonen",
    "conv.recent": "Recente gesprekken", "conv.empty": "Het logboek heeft nog geen gesprekken.",
    "conv.entries": "Logregels", "conv.showContent": "Inhoud tonen", "conv.back": "Alle gesprekken",
    "conv.contentOf": "Inhoud van logregel {i}", "conv.binary": "(binaire inhoud, {n} bytes)",
    "col.thread": "Thread id", "col.first": "Begin", "col.last": "Laatste activiteit", "col.count": "Regels",
    "col.lastActivity": "Laatste stap",
    "col.index": "Nr.", "col.time": "Tijd", "col.activity": "Activiteit", "col.outcome": "Uitkomst",
    "col.operator": "Beheerder", "col.content": "Inhoud",
    "receipt.title": "Ontvangstbewijs van het antwoord", "receipt.index": "Logregel",
    "receipt.size": "Boomgrootte", "receipt.proof": "Lengte inclusiebewijs", "receipt.leaf": "Bladhash",
    "receipt.checkpoint": "Ondertekend controlepunt",
    "receipt.none": "Dit gesprek heeft geen antwoord, dus geen ontvangstbewijs.",
    "log.title": "Logboek", "log.intact": "Intact: alle regels, koppelingen, inhoud en ondertekende controlepunten kloppen.",
    "log.broken": "NIET intact", "log.entries": "Regels", "log.withContent": "Met inhoud",
    "log.checkpoints": "Ondertekende controlepunten", "log.unsigned": "Regels nog niet onder een controlepunt",
    "log.latest": "Laatste ondertekende controlepunt", "log.noCheckpoint": "Nog geen ondertekend controlepunt.",
    "log.keys": "Sleutels", "log.again": "Opnieuw controleren", "log.checkedAt": "Gecontroleerd om", "log.dir": "Map",
    "data.title": "Gegevens", "data.empty": "Er zijn nog geen gegevens geladen (`kikv load`).",
    "col.iri": "Dataset (IRI)", "col.graph": "Fysieke graaf", "col.triples": "Tripels", "col.loaded": "Geladen op",
    "col.ontology": "Ontologie", "col.sources": "Bronbestanden",
    "prof.title": "Profielen", "prof.empty": "Er zijn geen profielen geregistreerd.",
    "prof.version": "Versie", "prof.consumer": "Afnemer", "prof.release": "Vrijgave",
    "prof.auto": "automatisch", "prof.manual": "handmatig, termijn {h} uur", "prof.active": "Actief",
    "prof.purpose": "Doel", "prof.legal": "Grondslag", "prof.ontologies": "Ontologieën", "prof.queries": "Vragen",
    "col.id": "Nr.", "col.title": "Titel", "col.params": "Parameters", "optional": "optioneel",
  },
  en: {
    brand: "KIK-V datastation · operator", navLabel: "Main menu", otherLanguage: "Nederlands",
    "nav.release": "Release", "nav.conversations": "Conversations", "nav.log": "Log",
    "nav.datasets": "Datasets", "nav.profiles": "Profiles",
    loading: "Loading…", refresh: "Refresh", close: "Close", cancel: "Cancel", yes: "yes", no: "no",
    error: "Error", none: "—",
    "token.missingTitle": "Not signed in",
    "token.missing": "Open the console through the link that the command `kikv console` prints on the node; that link holds the admin token.",
    "token.wrongTitle": "Token refused",
    "token.wrong": "The node refused the admin token: it is wrong, or the node was restarted. Get a new link with `kikv console`.",
    "token.paste": "Or paste the token", "token.use": "Sign in",
    "release.title": "Release of answers",
    "release.unavailable": "The release queue is not available on this node.",
    "release.empty": "No requests in the queue.",
    "release.pending": "Pending", "release.decided": "Recently decided",
    "release.open": "Review", "release.back": "Back to the queue",
    "release.preview": "Preview of the answer (computed from current data)",
    "release.noPreview": "No preview: the request has been dealt with.",
    "release.operator": "Your name (operator)",
    "release.approve": "Approve", "release.reject": "Reject…",
    "release.rejectTitle": "Reject request", "release.reason": "Reason for rejection",
    "release.confirmReject": "Send rejection",
    "release.needOperator": "Enter your name first.", "release.needReason": "A reason is required.",
    "release.approved": "Approved and sent.", "release.rejected": "Rejected; the consumer gets an error report.",
    "release.thread": "Conversation", "release.generation": "Generation", "release.replyUrl": "Reply address",
    "release.decidedAt": "Decided at", "release.poll": "(the consumer waits for the answer)",
    "state.pending": "pending", "state.approved": "approved", "state.rejected": "rejected", "state.expired": "expired",
    "col.answer": "Answer", "delivery.delivering": "being delivered", "delivery.delivered": "delivered",
    "delivery.sent_to_reply_address": "sent to reply address", "delivery.awaiting_collection": "awaiting collection",
    "delivery.collected": "collected",
    "col.consumer": "Consumer", "col.profile": "Profile", "col.indicator": "Indicator", "col.parameters": "Parameters",
    "col.received": "Received", "col.deadline": "Deadline", "col.left": "Time left", "col.state": "State",
    "col.decidedBy": "Decided by", "col.reason": "Reason", "col.action": "Action",
    "time.expired": "expired", "time.left": "{h} h {m} min",
    "conv.title": "Conversations", "conv.lookup": "Conversation (thread id)", "conv.show": "Show",
    "conv.recent": "Recent conversations", "conv.empty": "The log has no conversations yet.",
    "conv.entries": "Log entries", "conv.showContent": "Show content", "conv.back": "All conversations",
    "conv.contentOf": "Content of log entry {i}", "conv.binary": "(binary content, {n} bytes)",
    "col.thread": "Thread id", "col.first": "Started", "col.last": "Last activity", "col.count": "Entries",
    "col.lastActivity": "Last step",
    "col.index": "Index", "col.time": "Time", "col.activity": "Activity", "col.outcome": "Outcome",
    "col.operator": "Operator", "col.content": "Content",
    "receipt.title": "Receipt of the answer", "receipt.index": "Entry index",
    "receipt.size": "Tree size", "receipt.proof": "Inclusion proof length", "receipt.leaf": "Leaf hash",
    "receipt.checkpoint": "Signed checkpoint",
    "receipt.none": "This conversation has no answer, so no receipt.",
    "log.title": "Exchange log", "log.intact": "Intact: every entry, link, content file and signed checkpoint checks out.",
    "log.broken": "NOT intact", "log.entries": "Entries", "log.withContent": "With content",
    "log.checkpoints": "Signed checkpoints", "log.unsigned": "Entries not yet under a checkpoint",
    "log.latest": "Latest signed checkpoint", "log.noCheckpoint": "No signed checkpoint yet.",
    "log.keys": "Keys", "log.again": "Verify again", "log.checkedAt": "Checked at", "log.dir": "Directory",
    "data.title": "Datasets", "data.empty": "No data has been loaded yet (`kikv load`).",
    "col.iri": "Dataset (IRI)", "col.graph": "Physical graph", "col.triples": "Triples", "col.loaded": "Loaded at",
    "col.ontology": "Ontology", "col.sources": "Source files",
    "prof.title": "Profiles", "prof.empty": "No profiles are registered.",
    "prof.version": "Version", "prof.consumer": "Consumer", "prof.release": "Release",
    "prof.auto": "automatic", "prof.manual": "manual, deadline {h} hours", "prof.active": "Active",
    "prof.purpose": "Purpose", "prof.legal": "Legal basis", "prof.ontologies": "Ontologies", "prof.queries": "Queries",
    "col.id": "Id", "col.title": "Title", "col.params": "Parameters", "optional": "optional",
  },
};

const TOKEN_KEY = "kikv.console.token";
const LANG_KEY = "kikv.console.lang";
const OPERATOR_KEY = "kikv.console.operator";

let lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "nl";
// How the node signed this browser in (`GET /admin/whoami`): `{operator, via}`. An operator
// token or client certificate names the operator, who then decides under that name only.
let identity = null;
// A message for the page the next navigation shows (the navigation clears the status line).
let flash = null;

function t(key, values) {
  let text = TEXT[lang][key] ?? TEXT.nl[key] ?? key;
  for (const [name, value] of Object.entries(values || {})) text = text.replace(`{${name}}`, value);
  return text;
}

// Control characters and the invisible characters that reorder text (bidirectional overrides
// and isolates), shown escaped (\n, \u{202e}) so a consumer's string cannot forge or reorder
// what the operator reads; `keep` lists the ones a multi-line view shows as they are.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;
function printable(text, keep) {
  return text.replace(UNPRINTABLE, (c) => {
    if (keep && keep.includes(c)) return c;
    const escaped = { "\n": "\\n", "\r": "\\r", "\t": "\\t" }[c];
    return escaped ?? `\\u{${c.codePointAt(0).toString(16)}}`;
  });
}

// h("p", {class: "x"}, "text", child…): an element; strings become text nodes, escaped.
function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : printable(String(child)));
  }
  return element;
}

function table(headers, rows, attrs) {
  return h("div", { class: "table-wrap" },
    h("table", attrs || {},
      h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, t(name))))),
      h("tbody", {}, rows)));
}

function facts(pairs) {
  return h("dl", { class: "facts" },
    pairs.filter(([, value]) => value !== undefined).flatMap(([name, value]) => [h("dt", {}, t(name)), h("dd", {}, value ?? t("none"))]));
}

function when(rfc3339) {
  if (!rfc3339) return t("none");
  const date = new Date(rfc3339);
  if (Number.isNaN(date.getTime())) return rfc3339;
  return h("time", { datetime: rfc3339 }, date.toLocaleString(lang === "nl" ? "nl-NL" : "en-GB"));
}

function timeLeft(deadline) {
  const ms = new Date(deadline).getTime() - Date.now();
  if (!(ms > 0)) return t("time.expired");
  const minutes = Math.floor(ms / 60000);
  return t("time.left", { h: Math.floor(minutes / 60), m: minutes % 60 });
}

function parameters(values) {
  const entries = Object.entries(values || {});
  if (entries.length === 0) return t("none");
  return entries.map(([name, value]) => `${name} = ${typeof value === "string" ? value : JSON.stringify(value)}`).join(", ");
}

// --- The admin API ---------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(path, options) {
  const headers = { Accept: "application/json" };
  // Without a token the browser may still be signed in by its client certificate.
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const init = { method: "GET", headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" };
  if (options && options.body !== undefined) {
    init.method = options.method || "POST";
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) throw new ApiError(401, t("token.wrong"));
  if (options && options.raw) {
    if (!response.ok) throw new ApiError(response.status, await errorText(response));
    return response;
  }
  if (!response.ok) throw new ApiError(response.status, await errorText(response));
  return response.json();
}

async function errorText(response) {
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") return body.error;
  } catch (_) { /* not JSON: say the status */ }
  return `HTTP ${response.status}`;
}

// --- Frame: title, status line, navigation, language --------------------------------------------

const view = () => document.getElementById("view");

function say(message, isError) {
  const status = document.getElementById("status");
  status.textContent = message || "";
  status.className = isError ? "error" : "";
}

function page(titleKey, ...content) {
  document.getElementById("title").textContent = t(titleKey);
  document.title = `${t(titleKey)} · KIK-V datastation`;
  view().replaceChildren(...content.flat().filter((child) => child !== null && child !== undefined));
}

function failed(error) {
  if (error instanceof ApiError && error.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    identity = null;
    signIn("token.wrongTitle", "token.wrong");
    return;
  }
  view().replaceChildren(h("p", { class: "error", role: "alert" }, `${t("error")}: ${error.message}`));
}

function translateStatic() {
  document.documentElement.lang = lang;
  for (const element of document.querySelectorAll("[data-i18n]")) element.textContent = t(element.dataset.i18n);
  document.getElementById("nav").setAttribute("aria-label", t("navLabel"));
  const toggle = document.getElementById("lang");
  toggle.textContent = t("otherLanguage");
  toggle.setAttribute("lang", lang === "nl" ? "en" : "nl");
}

function markNav(name) {
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function signIn(titleKey, textKey) {
  markNav(null);
  const input = h("input", { type: "password", id: "token-input", autocomplete: "off" });
  const form = h("form", { class: "row", onsubmit: (event) => {
    event.preventDefault();
    if (input.value.trim() === "") return;
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    identity = null;
    location.hash = "#/release";
    route();
  } }, h("label", { for: "token-input" }, t("token.paste")), input, h("button", { type: "submit", class: "primary" }, t("token.use")));
  page(titleKey, h("p", { class: "notice", id: "signin-reason" }, t(textKey)), form);
}

// --- Release queue ---------------------------------------------------------------------------

function stateBadge(state) {
  return h("span", { class: `badge state-${state}`, "data-state": state }, t(`state.${state}`));
}

function indicators(item) {
  return (item.queries || []).map((q) => q.title ? `${q.indicator} ${q.title}` : q.indicator).join("; ");
}

async function releaseList() {
  const { items } = await api("/admin/release");
  const pending = items.filter((item) => item.state === "pending");
  const decided = items.filter((item) => item.state !== "pending");
  const pendingRows = pending.map((item) => h("tr", { "data-id": item.id },
    h("td", { class: "break" }, item.consumer),
    h("td", {}, `${item.profile.title || item.profile.iri} ${item.profile.version}`),
    h("td", {}, indicators(item)),
    h("td", {}, parameters(item.parameters)),
    h("td", {}, when(item.received_at)),
    h("td", {}, when(item.deadline)),
    h("td", {}, timeLeft(item.deadline)),
    h("td", {}, h("a", { href: `#/release/${encodeURIComponent(item.id)}`, class: "open" }, t("release.open")))));
  const decidedRows = decided.map((item) => h("tr", { "data-id": item.id },
    h("td", { class: "break" }, item.consumer),
    h("td", {}, `${item.profile.title || item.profile.iri} ${item.profile.version}`),
    h("td", {}, indicators(item)),
    h("td", {}, stateBadge(item.state)),
    h("td", {}, item.decided_by ?? t("none")),
    h("td", {}, when(item.decided_at)),
    h("td", {}, item.reason ?? t("none")),
    h("td", { class: "delivery" }, item.delivery
      ? `${t(`delivery.${item.delivery}`)}${item.handed_off_at ? ` ${when(item.handed_off_at)}` : ""}` : t("none")),
    h("td", {}, h("a", { href: `#/release/${encodeURIComponent(item.id)}` }, t("release.open")))));
  page("release.title",
    h("p", {}, h("button", { type: "button", id: "refresh", onclick: () => route() }, t("refresh"))),
    h("h2", {}, `${t("release.pending")} (${pending.length})`),
    pending.length === 0 ? h("p", { id: "release-empty" }, t("release.empty"))
      : table(["col.consumer", "col.profile", "col.indicator", "col.parameters", "col.received", "col.deadline", "col.left", "col.action"], pendingRows, { id: "pending" }),
    decided.length === 0 ? null : h("h2", {}, t("release.decided")),
    decided.length === 0 ? null
      : table(["col.consumer", "col.profile", "col.indicator", "col.state", "col.decidedBy", "release.decidedAt", "col.reason", "col.answer", "col.action"], decidedRows, { id: "decided" }));
}

function resultsTable(result) {
  if (result && typeof result.boolean === "boolean") return h("p", { class: "big" }, String(result.boolean));
  const vars = (result && result.head && result.head.vars) || [];
  const bindings = (result && result.results && result.results.bindings) || [];
  return h("div", { class: "table-wrap" }, h("table", { class: "preview" },
    h("thead", {}, h("tr", {}, vars.map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, bindings.map((row) => h("tr", {}, vars.map((name) => h("td", { class: "break" }, row[name] ? row[name].value : "")))))));
}

async function releaseItem(id) {
  const item = await api(`/admin/release/${encodeURIComponent(id)}`);
  const named = identity && identity.operator;
  const operator = h("input", { type: "text", id: "operator", autocomplete: "name", value: named || localStorage.getItem(OPERATOR_KEY) || "", readOnly: Boolean(named) });
  if (!named) operator.addEventListener("change", () => localStorage.setItem(OPERATOR_KEY, operator.value.trim()));
  const decide = async (verb, reason) => {
    const name = operator.value.trim();
    if (name === "") {
      say(t("release.needOperator"), true);
      operator.focus();
      return false;
    }
    if (!named) localStorage.setItem(OPERATOR_KEY, name);
    const body = { operator: name };
    if (reason) body.reason = reason;
    await api(`/admin/release/${encodeURIComponent(id)}/${verb}`, { body });
    flash = t(verb === "approve" ? "release.approved" : "release.rejected");
    location.hash = "#/release";
    return true;
  };
  const pending = item.state === "pending";
  const previews = (item.preview || []).map((entry) => {
    const query = (item.queries || []).find((q) => q.credential_id === entry.id);
    return h("section", { class: "preview-entry" },
      h("h3", {}, query ? `${query.indicator} ${query.title || ""}` : entry.id),
      resultsTable(entry.result));
  });
  page("release.title",
    h("p", {}, h("a", { href: "#/release" }, t("release.back"))),
    h("h2", {}, `${item.profile.title || item.profile.iri} ${item.profile.version} · `, stateBadge(item.state)),
    facts([
      ["col.consumer", item.consumer],
      ["col.profile", item.profile.iri],
      ["col.indicator", indicators(item)],
      ["col.parameters", parameters(item.parameters)],
      ["col.received", when(item.received_at)],
      ["col.deadline", pending ? h("span", {}, when(item.deadline), ` (${timeLeft(item.deadline)})`) : when(item.deadline)],
      ["release.thread", h("a", { href: `#/conversations/${encodeURIComponent(item.thread_id)}`, class: "mono" }, item.thread_id)],
      ["release.generation", String(item.generation)],
      ["release.replyUrl", item.reply_url ?? t("release.poll")],
      ["col.decidedBy", pending ? undefined : item.decided_by],
      ["release.decidedAt", pending ? undefined : when(item.decided_at)],
      ["col.reason", pending ? undefined : item.reason],
    ]),
    h("h2", {}, t("release.preview")),
    pending ? previews : h("p", {}, t("release.noPreview")),
    pending ? h("div", { class: "row" }, h("label", { for: "operator" }, t("release.operator")), operator) : null,
    pending ? h("p", { class: "buttons" },
      h("button", { type: "button", id: "approve", class: "primary", onclick: () => decide("approve").catch(failedAction) }, t("release.approve")),
      h("button", { type: "button", id: "reject", class: "danger", onclick: () => {
        if (operator.value.trim() === "") { say(t("release.needOperator"), true); operator.focus(); return; }
        askReason((reason) => decide("reject", reason));
      } }, t("release.reject"))) : null);
}

function failedAction(error) {
  if (error instanceof ApiError && error.status === 401) return failed(error);
  say(`${t("error")}: ${error.message}`, true);
}

// The reject dialog: a native <dialog>, so Escape closes it and focus stays inside; Enter in the
// reason field sends the rejection.
function askReason(send) {
  const dialog = document.getElementById("reject-dialog");
  const input = document.getElementById("reject-reason");
  const problem = document.getElementById("reject-error");
  const opener = document.activeElement;
  input.value = "";
  problem.textContent = "";
  document.getElementById("reject-form").onsubmit = async (event) => {
    event.preventDefault();
    const reason = input.value.trim();
    if (reason === "") {
      problem.textContent = t("release.needReason");
      input.focus();
      return;
    }
    try {
      dialog.close();
      await send(reason);
    } catch (error) {
      failedAction(error);
    }
  };
  document.getElementById("reject-cancel").onclick = () => dialog.close();
  dialog.onclose = () => { if (opener && document.contains(opener)) opener.focus(); };
  dialog.showModal();
  input.focus();
}

// --- Conversations ---------------------------------------------------------------------------

function lookupForm(value) {
  const input = h("input", { type: "search", id: "thread-input", value: value || "", autocomplete: "off" });
  return h("form", { class: "row", role: "search", onsubmit: (event) => {
    event.preventDefault();
    const id = input.value.trim();
    if (id !== "") location.hash = `#/conversations/${encodeURIComponent(id)}`;
  } }, h("label", { for: "thread-input" }, t("conv.lookup")), input, h("button", { type: "submit", class: "primary" }, t("conv.show")));
}

async function conversations() {
  const { threads } = await api("/admin/audit/threads?limit=50");
  const rows = threads.map((thread) => h("tr", { "data-thread": thread.thread_id },
    h("td", { class: "mono break" }, h("a", { href: `#/conversations/${encodeURIComponent(thread.thread_id)}` }, thread.thread_id)),
    h("td", { class: "break" }, thread.consumer ?? t("none")),
    h("td", {}, when(thread.first_time)),
    h("td", {}, when(thread.last_time)),
    h("td", { class: "num" }, String(thread.entries)),
    h("td", {}, thread.last_activity)));
  page("conv.title", lookupForm(""), h("h2", {}, t("conv.recent")),
    threads.length === 0 ? h("p", {}, t("conv.empty"))
      : table(["col.thread", "col.consumer", "col.first", "col.last", "col.count", "col.lastActivity"], rows, { id: "threads" }));
}

async function showContent(index) {
  const response = await api(`/admin/audit/entry/${index}/content`, { raw: true });
  const bytes = new Uint8Array(await response.arrayBuffer());
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* not JSON: as is */ }
  } catch (_) {
    text = t("conv.binary", { n: bytes.length });
  }
  const dialog = document.getElementById("content-dialog");
  const opener = document.activeElement;
  document.getElementById("content-heading").textContent = t("conv.contentOf", { i: index });
  document.getElementById("content-body").textContent = printable(text, "\n\t");
  document.getElementById("content-close").onclick = () => dialog.close();
  dialog.onclose = () => { if (opener && document.contains(opener)) opener.focus(); };
  dialog.showModal();
  document.getElementById("content-close").focus();
}

async function conversation(id) {
  const thread = await api(`/admin/audit/thread/${encodeURIComponent(id)}`);
  const rows = thread.entries.map((entry) => h("tr", { "data-index": entry.index },
    h("td", { class: "num" }, String(entry.index)),
    h("td", {}, when(entry.time)),
    h("td", {}, entry.activity),
    h("td", { class: "break" }, entry.outcome ?? t("none")),
    h("td", {}, entry.operator ?? t("none")),
    h("td", {}, entry.content
      ? h("button", { type: "button", class: "show-content", onclick: () => showContent(entry.index).catch(failedAction) }, t("conv.showContent"))
      : t("none"))));
  const receipt = thread.receipt;
  page("conv.title",
    h("p", {}, h("a", { href: "#/conversations" }, t("conv.back"))),
    lookupForm(id),
    h("h2", {}, `${t("release.thread")} `, h("span", { class: "mono" }, thread.thread_id)),
    table(["col.index", "col.time", "col.activity", "col.outcome", "col.operator", "col.content"], rows, { id: "entries" }),
    h("h2", {}, t("receipt.title")),
    receipt ? h("div", { id: "receipt" },
      facts([
        ["receipt.index", String(receipt.index)],
        ["receipt.size", String(receipt.tree_size)],
        ["receipt.proof", String(receipt.proof_length)],
        ["receipt.leaf", h("span", { class: "mono" }, receipt.leaf_hash)],
      ]),
      h("h3", {}, t("receipt.checkpoint")),
      h("pre", { tabindex: "0" }, receipt.checkpoint)) : h("p", { id: "receipt" }, t("receipt.none")));
}

// --- Log, datasets, profiles -------------------------------------------------------------------

async function log() {
  page("log.title", h("p", {}, t("loading")));
  const status = await api("/admin/audit/status");
  const unsigned = status.entries - (status.latest_checkpoint_size ?? 0);
  page("log.title",
    h("p", { id: "log-state", "data-intact": String(status.intact), class: `big ${status.intact ? "good" : "bad"}` },
      status.intact ? t("log.intact") : `${t("log.broken")}: ${status.problem}`),
    facts([
      ["log.entries", h("span", { id: "log-entries" }, String(status.entries))],
      ["log.withContent", String(status.with_content)],
      ["log.checkpoints", String(status.checkpoints)],
      ["log.unsigned", String(unsigned)],
      ["log.keys", h("span", { class: "mono" }, status.keys.join(", ") || t("none"))],
      ["log.dir", h("span", { class: "mono" }, status.dir)],
      ["log.checkedAt", when(status.checked_at)],
    ]),
    h("h2", {}, t("log.latest")),
    status.latest_checkpoint ? h("pre", { id: "checkpoint", tabindex: "0" }, status.latest_checkpoint) : h("p", {}, t("log.noCheckpoint")),
    h("p", {}, h("button", { type: "button", id: "verify-again", onclick: () => route() }, t("log.again"))));
}

async function datasets() {
  const list = await api("/admin/datasets");
  const rows = list.map((d) => h("tr", { "data-iri": d.iri },
    h("td", { class: "break" }, d.iri),
    h("td", { class: "mono break" }, d.physical_graph),
    h("td", { class: "num" }, Number(d.triples).toLocaleString(lang === "nl" ? "nl-NL" : "en-GB")),
    h("td", {}, when(d.loaded_at)),
    h("td", { class: "break" }, (d.ontologies || []).join(", ") || t("none")),
    h("td", { class: "break" }, (d.sources || []).join(", ") || t("none"))));
  page("data.title", list.length === 0 ? h("p", {}, t("data.empty"))
    : table(["col.iri", "col.graph", "col.triples", "col.loaded", "col.ontology", "col.sources"], rows, { id: "datasets" }));
}

async function profiles() {
  const list = (await api("/admin/profiles")).profiles;
  const sections = list.map((p) => h("section", { class: "profile", "data-iri": p.iri, "data-version": p.version },
    h("h2", {}, `${p.title} `, h("span", { class: "badge" }, p.version)),
    facts([
      ["col.profile", h("span", { class: "mono" }, p.iri)],
      ["prof.consumer", p.consumer],
      ["prof.release", h("span", { class: "release", "data-release": p.release },
        p.release === "manual" ? t("prof.manual", { h: p.deadline_hours }) : t("prof.auto"))],
      ["prof.active", t(p.active ? "yes" : "no")],
      ["prof.purpose", p.purpose],
      ["prof.legal", p.legal_basis],
      ["prof.ontologies", p.ontologies.join(", ") || t("none")],
    ]),
    h("h3", {}, t("prof.queries")),
    table(["col.id", "col.title", "col.params"], p.queries.map((q) => h("tr", {},
      h("td", {}, q.id),
      h("td", {}, q.title),
      h("td", {}, q.parameters.map((x) => `${x.name}: ${x.type}${x.required ? "" : ` (${t("optional")})`}`).join(", ") || t("none")))))));
  page("prof.title", list.length === 0 ? h("p", {}, t("prof.empty")) : sections);
}

// --- Routing -----------------------------------------------------------------------------------

async function route() {
  translateStatic();
  if (!identity) {
    try {
      identity = await api("/admin/whoami");
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) { failed(error); return; }
      signIn(token() ? "token.wrongTitle" : "token.missingTitle", token() ? "token.wrong" : "token.missing");
      if (token()) sessionStorage.removeItem(TOKEN_KEY);
      return;
    }
  }
  const [, name = "release", arg] = location.hash.replace(/^#/, "").split("/");
  const id = arg === undefined ? undefined : decodeURIComponent(arg);
  markNav(name);
  const pages = {
    release: () => (id === undefined ? releaseList() : releaseItem(id)),
    conversations: () => (id === undefined ? conversations() : conversation(id)),
    log, datasets, profiles,
  };
  const show = pages[name] || pages.release;
  try {
    await show();
  } catch (error) {
    if (name === "release" && error instanceof ApiError && error.status === 404 && id === undefined) {
      page("release.title", h("p", { class: "notice" }, t("release.unavailable")));
      return;
    }
    failed(error);
  }
}

function takeTokenFromFragment() {
  const match = location.hash.match(/(?:^#|&)token=([0-9A-Za-z_-]+)/);
  if (!match) return;
  sessionStorage.setItem(TOKEN_KEY, match[1]);
  identity = null;
  // Out of the address bar and the history: the fragment held a secret.
  history.replaceState(null, "", `${location.pathname}#/release`);
}

document.addEventListener("DOMContentLoaded", () => {
  takeTokenFromFragment();
  document.getElementById("lang").addEventListener("click", () => {
    lang = lang === "nl" ? "en" : "nl";
    localStorage.setItem(LANG_KEY, lang);
    route();
  });
  // After a navigation, keyboard users continue from the page heading's region.
  // A token link opened in a tab that already shows the console changes only the fragment.
  window.addEventListener("hashchange", () => {
    takeTokenFromFragment();
    say(flash || "");
    flash = null;
    route().then(() => document.getElementById("main").focus({ preventScroll: true }));
  });
  route();
});
