// herald dashboard: plain JavaScript, no framework and no build step.
// Everything it shows comes from the admin API under /v1, signed in with
// the session cookie; writes carry the session's CSRF token.
"use strict";

const TEXT = {
  en: {
    other: "한국어", signIn: "Sign in", signOut: "Sign out", token: "Admin token",
    signInHelp: "Paste one of the admin tokens serve was started with (--admin-token). It is checked once and never stored in the browser.",
    badToken: "That is not an admin token.", campaigns: "Campaigns", none: "No campaigns yet.",
    name: "Name", state: "State", progress: "Progress", tps: "TPS", start: "Start", created: "Created",
    back: "← Campaigns", total: "Total", done: "done", remaining: "remaining", eta: "ETA",
    sendsPerSec: "sends/s", reportsPerSec: "reports/s", limit: "TPS limit",
    countsTitle: "Recipients by state", chartTitle: "Throughput (up to the last 2 minutes)",
    chartHelp: "sends/s: rows that left the queue (accepted, delivered, failed, unknown); reports/s: rows reaching delivered or failed.",
    actions: "Actions", pause: "Pause", resume: "Resume", cancel: "Cancel", setTps: "Change TPS",
    reschedule: "Reschedule", retry: "Retry the failed", confirmCancel: "Cancel this campaign? Recipients not yet sent will not be sent.",
    pausedBecause: "Paused:", failedBecause: "Failed:", retryOf: "Retry of campaign", done_: "Done.",
    failures: "Failure reasons", code: "Code", count: "Count", meaning: "Meaning", retryable: "Retryable",
    yes: "yes", no: "no", noFailures: "No failures.", search: "Find a recipient", phone: "Phone", member: "Member id",
    find: "Find", noMatch: "No recipient matches.", searching: "Searching…", channel: "Channel", result: "Result",
    sentAt: "Sent at", messageAsSent: "Message as sent", history: "History", noMessage: "Nothing was sent to this recipient.",
    noDetail: "This server does not give recipient details yet; the row is shown as listed.",
    msgKey: "msgKey", attempts: "Attempts", title: "Title", buttons: "Buttons", fallback: "Fallback",
    etaUnknown: "—", updated: "updated", stale: "not updating — retrying", notFound: "No such campaign.",
    lang: "Language", sumCheck: "sum", recipient: "Recipient",
    intake: "Report intake", intakeOff: "This server takes no delivery reports: no webhook credential (--report-secret, --report-token) and no polling.",
    intakeDirect: "direct", intakeSpooling: "spooling", intakeNoSpool: "no spool",
    intakeDirectHelp: "Reports go straight to the database.",
    intakeSpoolingHelp: "The database failed or was slow: reports are acknowledged from the local spool and replayed to it in order.",
    intakeNoSpoolHelp: "Reports go straight to the database; without --report-spool-dir a database outage answers the provider 503.",
    queue: "Queue", spool: "Spool", waitingRecords: "Batches waiting", replayed: "Replayed", quarantined: "Quarantined batches",
    lastReplayFailure: "Last replay failure", lastCommitError: "Last commit error", never: "never",
    quarantinedReports: (n) => (n === 1 ? "1 report" : fmtInt(n) + " reports") + " in quarantine, in",
    quarantineHelp: "Batches whose commit kept failing while the database took others are kept in quarantine files in the spool directory; docs/INGEST.md (Poison records) tells how to replay them.",
    campaignStates: { draft: "draft", scheduled: "scheduled", preparing: "preparing", running: "running", paused: "paused", completed: "completed", cancelled: "cancelled", failed: "failed" },
    recipientStates: { PENDING: "pending", SENDING: "sending", RETRY_WAIT: "waiting to retry", ACCEPTED: "accepted", DELIVERED: "delivered", FAILED: "failed", SKIPPED: "skipped", UNKNOWN: "unknown", CANCELLED: "cancelled" },
  },
  ko: {
    other: "English", signIn: "로그인", signOut: "로그아웃", token: "관리자 토큰",
    signInHelp: "serve를 시작할 때 준 관리자 토큰(--admin-token)을 붙여 넣으세요. 한 번 확인할 뿐 브라우저에 저장하지 않습니다.",
    badToken: "관리자 토큰이 아닙니다.", campaigns: "캠페인", none: "캠페인이 아직 없습니다.",
    name: "이름", state: "상태", progress: "진행", tps: "TPS", start: "시작", created: "생성",
    back: "← 캠페인 목록", total: "전체", done: "처리", remaining: "남음", eta: "예상 완료",
    sendsPerSec: "발송/초", reportsPerSec: "결과 수신/초", limit: "TPS 한도",
    countsTitle: "상태별 수신자", chartTitle: "처리량 (최근 최대 2분)",
    chartHelp: "발송/초: 대기열을 떠난 건(접수·전달·실패·불명), 결과 수신/초: 전달 또는 실패가 된 건.",
    actions: "조작", pause: "일시 정지", resume: "재개", cancel: "취소", setTps: "TPS 변경",
    reschedule: "일정 변경", retry: "실패 건 재발송", confirmCancel: "이 캠페인을 취소할까요? 아직 보내지 않은 수신자에게는 보내지 않습니다.",
    pausedBecause: "일시 정지 사유:", failedBecause: "실패 사유:", retryOf: "재발송 원본 캠페인", done_: "완료했습니다.",
    failures: "실패 사유", code: "코드", count: "건수", meaning: "의미", retryable: "재시도 가능",
    yes: "예", no: "아니요", noFailures: "실패가 없습니다.", search: "수신자 찾기", phone: "전화번호", member: "회원 ID",
    find: "찾기", noMatch: "맞는 수신자가 없습니다.", searching: "찾는 중…", channel: "채널", result: "결과",
    sentAt: "발송 시각", messageAsSent: "발송된 메시지", history: "이력", noMessage: "이 수신자에게 보낸 메시지가 없습니다.",
    noDetail: "이 서버는 아직 수신자 상세를 주지 않습니다. 목록의 행을 보여 줍니다.",
    msgKey: "msgKey", attempts: "시도", title: "제목", buttons: "버튼", fallback: "대체 발송",
    etaUnknown: "—", updated: "갱신", stale: "갱신 안 됨 — 다시 시도 중", notFound: "그런 캠페인이 없습니다.",
    lang: "언어", sumCheck: "합계", recipient: "수신자",
    intake: "결과 수신", intakeOff: "이 서버는 전달 결과를 받지 않습니다: 웹훅 자격 증명(--report-secret, --report-token)도 폴링도 없습니다.",
    intakeDirect: "직접 저장", intakeSpooling: "스풀 중", intakeNoSpool: "스풀 없음",
    intakeDirectHelp: "결과를 곧바로 데이터베이스에 저장합니다.",
    intakeSpoolingHelp: "데이터베이스가 실패했거나 느립니다: 결과를 로컬 스풀에 받아 두고 순서대로 데이터베이스에 다시 씁니다.",
    intakeNoSpoolHelp: "결과를 곧바로 데이터베이스에 저장합니다. --report-spool-dir 없이 데이터베이스가 멈추면 공급자에게 503으로 답합니다.",
    queue: "대기열", spool: "스풀", waitingRecords: "대기 중인 배치", replayed: "다시 씀", quarantined: "격리된 배치",
    lastReplayFailure: "마지막 재기록 실패", lastCommitError: "마지막 저장 실패", never: "없음",
    quarantinedReports: (n) => "격리된 결과 " + fmtInt(n) + "건, 위치:",
    quarantineHelp: "다른 건은 저장되는데 계속 실패한 배치는 스풀 디렉터리의 격리 파일에 보관됩니다. 다시 넣는 방법은 docs/INGEST.md(Poison records)에 있습니다.",
    campaignStates: { draft: "초안", scheduled: "예약됨", preparing: "준비 중", running: "발송 중", paused: "일시 정지", completed: "완료", cancelled: "취소됨", failed: "실패" },
    recipientStates: { PENDING: "대기", SENDING: "발송 중", RETRY_WAIT: "재시도 대기", ACCEPTED: "접수됨", DELIVERED: "전달됨", FAILED: "실패", SKIPPED: "건너뜀", UNKNOWN: "불명", CANCELLED: "취소됨" },
  },
};

const RECIPIENT_STATES = ["PENDING", "SENDING", "RETRY_WAIT", "ACCEPTED", "DELIVERED", "FAILED", "SKIPPED", "UNKNOWN", "CANCELLED"];
const STATE_COLORS = { PENDING: "#98a2b3", SENDING: "#2f6fdd", RETRY_WAIT: "#c98a00", ACCEPTED: "#7aa7f0", DELIVERED: "#1f9d55", FAILED: "#d64545", SKIPPED: "#b692f6", UNKNOWN: "#667085", CANCELLED: "#475467" };
const QUEUED = ["PENDING", "SENDING", "RETRY_WAIT"];
const SENT = ["ACCEPTED", "DELIVERED", "FAILED", "UNKNOWN"];
const REPORTED = ["DELIVERED", "FAILED"];
const TERMINAL = ["completed", "cancelled", "failed"];
const CHART_WINDOW_MS = 120000;

const app = {
  lang: pickLanguage(),
  csrf: null,
  view: 0, // bumped at every navigation; a poll of an older view stops
  chart: null, // the last campaign page's samples: {id, samples}
};

function pickLanguage() {
  const saved = localStorage.getItem("herald.lang");
  if (saved === "ko" || saved === "en") return saved;
  const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
  return String(langs[0]).toLowerCase().startsWith("ko") ? "ko" : "en";
}

function t(key) { return TEXT[app.lang][key] ?? TEXT.en[key] ?? key; }
function campaignState(s) { return t("campaignStates")[s] || s; }
function recipientState(s) { return t("recipientStates")[s] || s; }

// el builds an element; strings become text nodes, never HTML.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

// ApiError is an answer of the API in its error shape {"error": {code, message, field}}.
class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || "HTTP " + status);
    this.status = status;
    this.code = e.code || "";
    this.field = e.field || "";
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && app.csrf) headers["X-CSRF-Token"] = app.csrf;
  const resp = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  if (resp.status !== 204 && (resp.headers.get("Content-Type") || "").includes("application/json")) data = await resp.json();
  if (!resp.ok) {
    const err = new ApiError(resp.status, data);
    if (resp.status === 401 && path !== "/v1/session") signedOut();
    throw err;
  }
  return data;
}

function signedOut() {
  app.csrf = null;
  app.view++;
  showSignIn();
}

function sum(counts, states) { return states.reduce((n, s) => n + ((counts || {})[s] || 0), 0); }
function fmtInt(n) { return Number(n || 0).toLocaleString(app.lang === "ko" ? "ko-KR" : "en-US"); }
function fmtTime(s) {
  if (!s || s.startsWith("0001-")) return "";
  return new Date(s).toLocaleString(app.lang === "ko" ? "ko-KR" : "en-GB");
}
function fmtBytes(n) {
  n = Number(n || 0);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + " " + units[i];
}
function fmtDuration(sec) {
  if (!isFinite(sec) || sec < 0) return t("etaUnknown");
  sec = Math.round(sec);
  const h = Math.floor(sec / 3600), m = Math.floor((sec % 3600) / 60), s = sec % 60;
  if (app.lang === "ko") return (h ? h + "시간 " : "") + (h || m ? m + "분 " : "") + s + "초";
  return (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s";
}

function progressBar(done, total, big) {
  const pct = total > 0 ? Math.min(100, (100 * done) / total) : 0;
  const fill = el("div", { class: "fill" });
  fill.style.width = pct.toFixed(1) + "%";
  return el("div", { class: big ? "bar big" : "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": String(total), "aria-valuenow": String(done) }, fill);
}

function stateBadge(s) { return el("span", { class: "state state-" + s, "data-state": s }, campaignState(s)); }

function setMain(...children) {
  const main = document.getElementById("main");
  main.replaceChildren(...children);
}

function renderChrome() {
  document.documentElement.lang = app.lang;
  document.getElementById("lang").textContent = t("other");
  const out = document.getElementById("signout");
  out.textContent = t("signOut");
  out.hidden = !app.csrf;
}

// ---- sign-in ----

function showSignIn() {
  renderChrome();
  const msg = el("p", { id: "signin-error", class: "error", role: "alert" });
  const input = el("input", { id: "token", type: "password", autocomplete: "current-password", required: true, "aria-label": t("token") });
  const form = el("form", { id: "signin", class: "card signin", onsubmit: async (ev) => {
    ev.preventDefault();
    msg.textContent = "";
    try {
      const s = await api("POST", "/v1/session", { token: input.value });
      app.csrf = s.csrfToken;
      input.value = "";
      route();
    } catch (e) {
      msg.textContent = e.status === 401 ? t("badToken") : e.message;
    }
  } },
  el("h1", {}, t("signIn")), el("p", { class: "muted" }, t("signInHelp")),
  el("label", { for: "token" }, t("token")), input,
  el("button", { type: "submit", class: "primary", id: "signin-submit" }, t("signIn")), msg);
  setMain(form);
  input.focus();
}

async function signOut() {
  try { await api("DELETE", "/v1/session"); } catch (e) { /* signed out either way */ }
  signedOut();
}

// ---- routing ----

function navigate(path) {
  history.pushState(null, "", path);
  route();
}

function route() {
  app.view++;
  renderChrome();
  if (!app.csrf) { showSignIn(); return; }
  const m = location.pathname.match(/^\/campaigns\/(\d+)$/);
  if (m) showCampaign(Number(m[1]), app.view);
  else showList(app.view);
}

document.addEventListener("click", (ev) => {
  const a = ev.target.closest("a[data-nav]");
  if (!a || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.button !== 0) return;
  ev.preventDefault();
  navigate(a.getAttribute("href"));
});
window.addEventListener("popstate", route);

// poll calls fn every ms while the view is current, and once at once.
async function poll(view, ms, fn) {
  while (view === app.view) {
    try { await fn(); } catch (e) { if (e.status === 401) return; }
    await new Promise((r) => setTimeout(r, ms));
  }
}

// ---- campaign list ----

function showList(view) {
  const intake = new IntakePanel();
  const body = el("tbody", { id: "campaign-rows" });
  const empty = el("p", { class: "muted", hidden: true }, t("none"));
  setMain(el("h1", {}, t("campaigns")), el("div", { class: "card" },
    el("table", { id: "campaigns" }, el("thead", {}, el("tr", {},
      el("th", {}, "#"), el("th", {}, t("name")), el("th", {}, t("state")), el("th", {}, t("progress")),
      el("th", { class: "num" }, t("tps")), el("th", {}, t("start")))), body), empty), intake.root);
  poll(view, 3000, () => intake.refresh(view));
  poll(view, 2000, async () => {
    const { campaigns } = await api("GET", "/v1/campaigns");
    if (view !== app.view) return;
    empty.hidden = campaigns.length > 0;
    body.replaceChildren(...campaigns.map((c) => {
      const done = c.total - sum(c.counts, QUEUED);
      return el("tr", { "data-id": String(c.id) },
        el("td", {}, String(c.id)),
        el("td", {}, el("a", { href: "/campaigns/" + c.id, "data-nav": true, class: "campaign-link" }, c.name)),
        el("td", {}, stateBadge(c.state)),
        el("td", {}, el("div", { class: "row" }, progressBar(done, c.total), el("span", { class: "muted" }, fmtInt(done) + " / " + fmtInt(c.total)))),
        el("td", { class: "num" }, fmtInt(c.tps)),
        el("td", {}, fmtTime(c.startAt)));
    }));
  });
}

// ---- report intake ----

// IntakePanel shows GET /v1/reports/intake: the queue, the local spool and
// its quarantine. A server without the route (404) hides it.
class IntakePanel {
  constructor() {
    this.body = el("div", { id: "intake-body" });
    this.state = el("span", { id: "intake-state" });
    this.root = el("div", { class: "card", id: "intake", hidden: true },
      el("div", { class: "row" }, el("h2", {}, t("intake")), this.state), this.body);
  }

  async refresh(view) {
    let s;
    try {
      s = await api("GET", "/v1/reports/intake");
    } catch (e) {
      if (e.status === 404) { this.root.hidden = true; return; }
      throw e;
    }
    if (view !== app.view) return;
    this.root.hidden = false;
    this.show(s);
  }

  show(s) {
    const badge = (state, label, cls) => el("span", { class: "state " + cls, "data-state": state }, label);
    const stat = (id, value, label, cls) => el("div", {}, el("b", { id, class: cls || null }, value), el("span", {}, label));
    const state = this.state;
    if (!s.enabled) {
      state.replaceChildren(badge("off", "off", "state-off"));
      this.body.replaceChildren(el("p", { class: "muted" }, t("intakeOff")));
      return;
    }
    const sp = s.spool;
    const [key, cls, label, help] = !sp ? ["no-spool", "state-off", "intakeNoSpool", "intakeNoSpoolHelp"]
      : sp.spooling ? ["spooling", "state-paused", "intakeSpooling", "intakeSpoolingHelp"]
      : ["direct", "state-completed", "intakeDirect", "intakeDirectHelp"];
    state.replaceChildren(badge(key, t(label), cls));
    const stats = [stat("intake-queue", fmtInt(s.queueDepth) + " / " + fmtInt(s.queueCapacity), t("queue")),
      stat("intake-commit-error", s.lastCommitError ? fmtTime(s.lastCommitError) : t("never"), t("lastCommitError"))];
    const parts = [el("p", { class: "muted" }, t(help))];
    if (sp) {
      stats.push(
        stat("intake-spool", fmtBytes(sp.bytes) + " / " + fmtBytes(sp.maxBytes), t("spool")),
        stat("intake-records", sp.records === null ? "—" : fmtInt(sp.records), t("waitingRecords")),
        stat("intake-replayed", fmtInt(sp.replayed), t("replayed")),
        stat("intake-quarantined", fmtInt(sp.quarantinedBatches), t("quarantined"), sp.quarantinedBatches > 0 ? "error" : null),
        stat("intake-failure", sp.lastReplayFailure ? fmtTime(sp.lastReplayFailure) : t("never"), t("lastReplayFailure")));
      if (sp.bytes > 0) parts.push(progressBar(sp.bytes, sp.maxBytes));
      if (sp.quarantinedBatches > 0) {
        parts.push(el("p", { class: "reason", id: "intake-quarantine" }, t("quarantineHelp"), " ",
          el("b", {}, t("quarantinedReports")(sp.quarantinedReports)), " ", el("code", {}, sp.dir)));
      }
    }
    this.body.replaceChildren(el("div", { class: "stats" }, stats), ...parts);
  }
}

// ---- campaign page ----

function showCampaign(id, view) {
  const page = new CampaignPage(id, view);
  setMain(page.root);
  poll(view, 1000, () => page.refresh());
  poll(view, 5000, () => page.refreshFailures());
}

class CampaignPage {
  constructor(id, view) {
    this.id = id;
    this.view = view;
    // Samples ({at ms, sent, reported, tps}) outlive the page object, so
    // that switching the language or coming back keeps the chart's history.
    if (!app.chart || app.chart.id !== id) app.chart = { id, samples: [] };
    this.samples = app.chart.samples;
    this.campaign = null;
    this.failuresAvailable = null; // null: not asked yet; false: the server has no such route
    this.build();
  }

  path(suffix) { return "/v1/campaigns/" + this.id + (suffix || ""); }

  build() {
    const $ = (tag, id, attrs, ...kids) => (this[id] = el(tag, Object.assign({ id }, attrs), ...kids));
    this.root = el("div", {},
      el("p", {}, el("a", { href: "/", "data-nav": true }, t("back"))),
      el("div", { class: "row" }, $("h1", "c-name", {}), $("span", "c-state", {})),
      $("p", "c-reason", { class: "reason", hidden: true }),
      $("p", "c-retryof", { hidden: true }),
      el("div", { class: "card" },
        $("div", "c-bar", {}),
        el("div", { class: "stats" },
          el("div", {}, $("b", "c-done", {}), el("span", {}, t("done"))),
          el("div", {}, $("b", "c-remaining", {}), el("span", {}, t("remaining"))),
          el("div", {}, $("b", "c-total", {}), el("span", {}, t("total"))),
          el("div", {}, $("b", "c-rate", {}), el("span", {}, t("sendsPerSec"))),
          el("div", {}, $("b", "c-tps", {}), el("span", {}, t("limit"))),
          el("div", {}, $("b", "c-eta", {}), el("span", {}, t("eta")))),
        $("p", "c-updated", { class: "muted" })),
      el("div", { class: "grid" },
        el("div", { class: "card" }, el("h2", {}, t("countsTitle")), $("table", "counts", {})),
        el("div", { class: "card" }, el("h2", {}, t("chartTitle")), $("div", "chart", {}),
          el("div", { class: "legend" }, el("span", {}, el("i", { class: "sends" }), t("sendsPerSec")),
            el("span", {}, el("i", { class: "reports" }), t("reportsPerSec")), el("span", {}, el("i", { class: "limit" }), t("limit"))),
          el("p", { class: "muted" }, t("chartHelp")))),
      this.buildActions(),
      $("div", "failures", { class: "card", hidden: true }),
      this.buildSearch());
  }

  buildActions() {
    const act = (id, label, cls, fn) => (this[id] = el("button", { type: "button", id, class: cls, disabled: true, onclick: fn }, label));
    this["tps-input"] = el("input", { id: "tps-input", type: "number", min: "1", max: "100000", "aria-label": t("tps") });
    this["start-input"] = el("input", { id: "start-input", type: "datetime-local", "aria-label": t("start") });
    this["action-msg"] = el("p", { id: "action-msg", role: "status" });
    return el("div", { class: "card", id: "actions" }, el("h2", {}, t("actions")),
      el("div", { class: "row" },
        act("btn-pause", t("pause"), "", () => this.act("POST", "/pause")),
        act("btn-resume", t("resume"), "primary", () => this.act("POST", "/resume")),
        act("btn-cancel", t("cancel"), "danger", () => { if (confirm(t("confirmCancel"))) this.act("POST", "/cancel"); }),
        act("btn-retry", t("retry"), "", () => this.retry())),
      el("div", { class: "row" }, this["tps-input"],
        act("btn-tps", t("setTps"), "", () => this.act("PATCH", "", { tps: Number(this["tps-input"].value) }))),
      el("div", { class: "row" }, this["start-input"],
        act("btn-reschedule", t("reschedule"), "", () => {
          const v = this["start-input"].value;
          if (v) this.act("PATCH", "", { startAt: new Date(v).toISOString() });
        })),
      this["action-msg"]);
  }

  async act(method, suffix, body) {
    const msg = this["action-msg"];
    msg.className = "";
    msg.textContent = "";
    try {
      const c = await api(method, this.path(suffix), body);
      msg.className = "ok";
      msg.textContent = t("done_");
      this.show(c, performance.now());
    } catch (e) {
      msg.className = "error";
      msg.textContent = (e.field ? e.field + ": " : "") + e.message;
    }
  }

  async retry() {
    const msg = this["action-msg"];
    try {
      const c = await api("POST", this.path("/retry"), {});
      navigate("/campaigns/" + c.id);
    } catch (e) {
      msg.className = "error";
      msg.textContent = e.message;
    }
  }

  async refresh() {
    try {
      const c = await api("GET", this.path());
      if (this.view !== app.view) return;
      this.show(c, performance.now());
      this["c-updated"].textContent = t("updated") + " " + new Date().toLocaleTimeString(app.lang === "ko" ? "ko-KR" : "en-GB");
    } catch (e) {
      if (e.status === 404) { setMain(el("p", { class: "error" }, t("notFound"))); app.view++; return; }
      this["c-updated"].textContent = t("stale") + ": " + e.message;
      throw e;
    }
  }

  show(c, at) {
    const first = !this.campaign;
    this.campaign = c;
    const queued = sum(c.counts, QUEUED), done = c.total - queued;
    // A button's answer comes between two polls; a sample so close to the
    // last one would turn one row into a spike of rows per second.
    const last = this.samples[this.samples.length - 1];
    if (!last || at - last.at >= 500) this.samples.push({ at, sent: sum(c.counts, SENT), reported: sum(c.counts, REPORTED), tps: c.tps });
    while (this.samples.length > 2 && at - this.samples[1].at > CHART_WINDOW_MS) this.samples.shift();
    document.title = c.name + " · herald";
    this["c-name"].textContent = c.name;
    this["c-state"].replaceChildren(stateBadge(c.state));
    const reason = this["c-reason"];
    reason.hidden = !c.reason;
    reason.textContent = c.reason ? (c.state === "failed" ? t("failedBecause") : t("pausedBecause")) + " " + c.reason : "";
    const retryOf = this["c-retryof"];
    retryOf.hidden = !c.retryOf;
    if (c.retryOf) retryOf.replaceChildren(t("retryOf") + " ", el("a", { href: "/campaigns/" + c.retryOf, "data-nav": true }, "#" + c.retryOf));
    this["c-bar"].replaceChildren(progressBar(done, c.total, true));
    this["c-done"].textContent = fmtInt(done) + (c.total ? " (" + ((100 * done) / c.total).toFixed(1) + "%)" : "");
    this["c-remaining"].textContent = fmtInt(queued);
    this["c-total"].textContent = fmtInt(c.total);
    this["c-tps"].textContent = fmtInt(c.tps);
    const rate = this.recentRate(10000);
    this["c-rate"].textContent = rate === null ? "—" : rate.toFixed(1);
    this["c-eta"].textContent = this.eta(c, queued, rate);
    this.renderCounts(c);
    this.renderChart();
    this.renderButtons(c, first);
  }

  // recentRate is sends per second over the last window ms of samples.
  recentRate(window) {
    const s = this.samples;
    if (s.length < 2) return null;
    const last = s[s.length - 1];
    let first = s[0];
    for (const x of s) if (last.at - x.at <= window) { first = x; break; }
    if (first === last) first = s[s.length - 2];
    return ((last.sent - first.sent) * 1000) / (last.at - first.at);
  }

  eta(c, queued, rate) {
    if (TERMINAL.includes(c.state)) return fmtDuration(0);
    if (queued === 0 || c.state !== "running") return t("etaUnknown");
    const r = rate && rate > 0 ? rate : null;
    return r ? fmtDuration(queued / r) : "≈ " + fmtDuration(queued / c.tps);
  }

  renderCounts(c) {
    const rows = RECIPIENT_STATES.map((s) => el("tr", { "data-state": s },
      el("td", {}, el("span", { class: "dot", "data-color": s }), recipientState(s), el("span", { class: "muted" }, " " + s)),
      el("td", { class: "num", "data-count": s }, fmtInt((c.counts || {})[s] || 0))));
    for (const r of rows) r.querySelector(".dot").style.background = STATE_COLORS[r.dataset.state];
    const all = sum(c.counts, RECIPIENT_STATES);
    this.counts.replaceChildren(el("tbody", {}, rows),
      el("tfoot", {}, el("tr", {}, el("td", {}, t("total")), el("td", { class: "num", id: "counts-total", "data-sum": String(all) }, fmtInt(c.total)))));
  }

  renderChart() {
    const W = 560, H = 220, L = 44, R = 8, T = 10, B = 24;
    const pts = [];
    for (let i = 1; i < this.samples.length; i++) {
      const a = this.samples[i - 1], b = this.samples[i], dt = (b.at - a.at) / 1000;
      if (dt <= 0) continue;
      pts.push({ at: b.at, sends: Math.max(0, (b.sent - a.sent) / dt), reports: Math.max(0, (b.reported - a.reported) / dt), tps: b.tps });
    }
    const now = this.samples.length ? this.samples[this.samples.length - 1].at : 0;
    // The window grows with the page's age up to two minutes, so that the
    // first seconds fill the chart instead of a sliver at its right edge.
    const span = Math.min(CHART_WINDOW_MS, Math.max(30000, this.samples.length ? now - this.samples[0].at : 0));
    const top = Math.max(1, ...pts.map((p) => Math.max(p.sends, p.reports, p.tps)), this.campaign ? this.campaign.tps : 1) * 1.15;
    const x = (at) => L + ((W - L - R) * (span - (now - at))) / span;
    const y = (v) => T + (H - T - B) * (1 - v / top);
    const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", id: "chart-svg", role: "img", "aria-label": t("chartTitle") });
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      const v = top * f;
      g.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#eaecf0" }));
      const label = svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" });
      label.textContent = v >= 10 ? Math.round(v) : v.toFixed(1);
      g.append(label);
    }
    const secs = Math.round(span / 1000);
    for (const [sec, anchor] of [[secs, "start"], [Math.round(secs / 2), "middle"], [0, "end"]]) {
      const label = svg("text", { x: x(now - sec * 1000), y: H - 6, "text-anchor": anchor });
      label.textContent = sec ? "−" + sec + "s" : app.lang === "ko" ? "지금" : "now";
      g.append(label);
    }
    const line = (key, color, dash) => {
      if (!pts.length) return;
      const d = pts.map((p, i) => (i ? "L" : "M") + x(p.at).toFixed(1) + " " + y(p[key]).toFixed(1)).join(" ");
      const attrs = { d, fill: "none", stroke: color, "stroke-width": key === "tps" ? 1.5 : 2, "stroke-linejoin": "round", "data-series": key };
      if (dash) attrs["stroke-dasharray"] = "6 4";
      g.append(svg("path", attrs));
    };
    line("tps", "#d64545", true);
    line("reports", "#1f9d55");
    line("sends", "#2f6fdd");
    this.chart.replaceChildren(g);
  }

  renderButtons(c, first) {
    const s = c.state, live = !TERMINAL.includes(s);
    this["btn-pause"].disabled = !["scheduled", "preparing", "running"].includes(s);
    this["btn-resume"].disabled = s !== "paused";
    this["btn-cancel"].disabled = !live;
    this["btn-tps"].disabled = !live;
    this["btn-reschedule"].disabled = !["draft", "scheduled", "paused"].includes(s);
    this["btn-retry"].hidden = !this.failuresAvailable || !((c.counts || {}).FAILED > 0);
    this["btn-retry"].disabled = false;
    if (first) {
      this["tps-input"].value = c.tps;
      if (c.startAt) {
        const d = new Date(c.startAt);
        this["start-input"].value = new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
      }
    }
  }

  // refreshFailures shows the failure reasons; a server without the
  // failures route (404) hides the panel and is not asked again.
  async refreshFailures() {
    if (this.failuresAvailable === false) return;
    let data;
    try {
      data = await api("GET", this.path("/failures"));
    } catch (e) {
      if (e.status === 404) { this.failuresAvailable = false; this.failures.hidden = true; return; }
      throw e;
    }
    if (this.view !== app.view) return;
    this.failuresAvailable = true;
    const fs = data.failures || [];
    this.failures.hidden = false;
    const table = el("table", { id: "failure-rows" }, el("thead", {}, el("tr", {},
      el("th", {}, t("code")), el("th", {}, t("state")), el("th", { class: "num" }, t("count")),
      el("th", {}, t("meaning")), el("th", {}, t("retryable")))),
    el("tbody", {}, fs.map((f) => el("tr", { "data-code": f.code },
      el("td", {}, f.code), el("td", {}, recipientState(f.state)), el("td", { class: "num" }, fmtInt(f.count)),
      el("td", {}, (app.lang === "ko" ? f.ko : f.en) || f.en || f.ko || ""),
      el("td", {}, f.retryable ? t("yes") : t("no"))))));
    this.failures.replaceChildren(el("h2", {}, t("failures")), fs.length ? table : el("p", { class: "muted" }, t("noFailures")));
    if (this.campaign) this.renderButtons(this.campaign, false);
  }

  buildSearch() {
    const by = el("select", { id: "search-by", "aria-label": t("search") },
      el("option", { value: "phone" }, t("phone")), el("option", { value: "member" }, t("member")));
    const q = el("input", { id: "search-q", type: "search", required: true, placeholder: "01012345678" });
    by.addEventListener("change", () => { q.placeholder = by.value === "phone" ? "01012345678" : "member-0000001"; });
    const results = el("div", { id: "search-results" });
    const detail = el("div", { id: "recipient-detail" });
    const form = el("form", { id: "search", onsubmit: (ev) => { ev.preventDefault(); this.search(by.value, q.value.trim(), results, detail); } },
      el("div", { class: "row" }, by, q, el("button", { type: "submit", id: "search-submit" }, t("find"))));
    return el("div", { class: "card" }, el("h2", {}, t("search")), form, results, detail);
  }

  // search asks the server to filter by phone or member id and also checks
  // each row itself, so that a server that ignores the filter still finds
  // the recipient (paging on, up to 50 pages).
  async search(by, q, results, detail) {
    detail.replaceChildren();
    if (!q) return;
    results.replaceChildren(el("p", { class: "muted" }, t("searching")));
    const digits = (s) => String(s || "").replace(/\D/g, "");
    const want = by === "phone" ? digits(q) : q;
    const matches = (r) => (by === "phone" ? digits(r.phone) === want : r.memberId === want);
    const found = [];
    let after = 0;
    try {
      for (let page = 0; page < 50 && found.length < 50; page++) {
        const params = new URLSearchParams({ [by]: want, limit: "1000" });
        if (after) params.set("after", String(after));
        const data = await api("GET", this.path("/recipients?" + params));
        found.push(...(data.recipients || []).filter(matches));
        if (!data.next) break;
        after = data.next;
      }
    } catch (e) {
      results.replaceChildren(el("p", { class: "error" }, e.message));
      return;
    }
    if (!found.length) { results.replaceChildren(el("p", { class: "muted" }, t("noMatch"))); return; }
    results.replaceChildren(el("table", { id: "recipient-rows" },
      el("thead", {}, el("tr", {}, el("th", {}, "#"), el("th", {}, t("member")), el("th", {}, t("phone")),
        el("th", {}, t("state")), el("th", {}, t("result")), el("th", {}, t("channel")), el("th", {}, t("sentAt")))),
      el("tbody", {}, found.map((r) => el("tr", { class: "clickable recipient", "data-id": String(r.id), onclick: () => this.showRecipient(r, detail) },
        el("td", {}, String(r.id)), el("td", {}, r.memberId), el("td", { class: "phone" }, r.phone),
        el("td", { class: "rstate" }, recipientState(r.state)), el("td", {}, [r.resultCode, r.resultText].filter(Boolean).join(" ")),
        el("td", {}, r.channel || ""), el("td", {}, fmtTime(r.sentAt)))))));
    if (found.length === 1) this.showRecipient(found[0], detail);
  }

  async showRecipient(r, detail) {
    let d = null;
    try {
      d = await api("GET", this.path("/recipients/" + r.id));
    } catch (e) {
      if (e.status !== 404) { detail.replaceChildren(el("p", { class: "error" }, e.message)); return; }
    }
    const rec = (d && d.recipient) || r;
    const kv = (k, v) => (v === undefined || v === null || v === "" ? [] : [el("dt", {}, k), el("dd", {}, String(v))]);
    const parts = [el("h2", {}, t("recipient") + " #" + rec.id),
      el("dl", { class: "kv", id: "recipient-fields" },
        kv(t("member"), rec.memberId), kv(t("phone"), rec.phone), kv(t("state"), recipientState(rec.state) + " (" + rec.state + ")"),
        kv(t("result"), [rec.resultCode, rec.resultText].filter(Boolean).join(" ")), kv(t("channel"), rec.channel),
        kv(t("msgKey"), rec.msgKey), kv(t("attempts"), rec.attempts), kv(t("sentAt"), fmtTime(rec.sentAt)))];
    if (!d) {
      parts.push(el("p", { class: "muted" }, t("noDetail")));
    } else {
      parts.push(el("h2", {}, t("messageAsSent")));
      const m = d.message;
      if (!m) parts.push(el("p", { class: "muted" }, t("noMessage")));
      else {
        if (m.title) parts.push(el("p", {}, el("b", {}, m.title)));
        parts.push(el("pre", { class: "message", id: "message-text" }, m.text || ""));
        if (m.buttons && m.buttons.length) parts.push(el("p", {}, t("buttons") + ": " + m.buttons.map((b) => b.name || b.type).join(", ")));
        if (m.fallback) parts.push(el("p", { class: "muted" }, t("fallback") + ": " + (typeof m.fallback === "string" ? m.fallback : JSON.stringify(m.fallback))));
      }
      parts.push(el("h2", {}, t("history")));
      parts.push(el("table", { id: "history" }, el("tbody", {}, (d.history || []).map((h) =>
        el("tr", {}, el("td", {}, fmtTime(h.at)), el("td", {}, h.event), el("td", {}, h.detail || ""))))));
    }
    detail.replaceChildren(el("div", { class: "card" }, ...parts));
  }
}

// ---- start ----

document.getElementById("lang").addEventListener("click", () => {
  app.lang = app.lang === "ko" ? "en" : "ko";
  localStorage.setItem("herald.lang", app.lang);
  route();
});
document.getElementById("signout").addEventListener("click", signOut);

(async function start() {
  renderChrome();
  try {
    const s = await api("GET", "/v1/session");
    app.csrf = s.csrfToken;
  } catch (e) {
    app.csrf = null;
  }
  route();
})();
