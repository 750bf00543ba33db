// The operator's board: what breaches next (api/board.py). Same-origin fetches with the
// session cookie; every value is set as text (never as HTML).
"use strict";

const REFRESH_MS = 15000;
const AT_RISK_S = 3600;
const board = document.getElementById("board");
const filters = document.getElementById("filters");
const statusLine = document.getElementById("status");
const countdowns = [];

function span(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const sign = seconds < 0 ? "-" : "";
  let left = Math.round(Math.abs(seconds));
  if (left < 60) return `${sign}${left}s`;
  const days = Math.floor(left / 86400);
  left -= days * 86400;
  const hours = Math.floor(left / 3600);
  const minutes = Math.floor((left - hours * 3600) / 60);
  if (days) return `${sign}${days}d ${hours}h`;
  if (hours) return `${sign}${hours}h ${String(minutes).padStart(2, "0")}m`;
  return `${sign}${minutes}m`;
}

// The countdown: seconds show under an hour, so a ticket about to breach visibly ticks.
function clockText(seconds) {
  const left = Math.abs(Math.round(seconds));
  if (left >= 3600 || left < 60) return span(seconds);
  const sign = seconds < 0 ? "-" : "";
  return `${sign}${Math.floor(left / 60)}m ${String(left % 60).padStart(2, "0")}s`;
}

function utc(iso) {
  const d = new Date(iso);
  return d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function link(row, key) {
  const td = document.createElement("td");
  const a = document.createElement("a");
  const id = encodeURIComponent("ticket-" + key);
  a.href = `${board.dataset.ui}/namespaces/${encodeURIComponent(board.dataset.namespace)}/workflows/${id}`;
  a.textContent = "Temporal UI";
  a.rel = "noopener";
  td.appendChild(a);
  row.appendChild(td);
}

function severity(item) {
  const label = item.severity_label || item.severity || "–";
  return item.rank ? `${label} · rank ${item.rank}` : label;
}

function countdown(td, dueAt) {
  const at = Date.parse(dueAt);
  countdowns.push([td, at]);
  td.textContent = clockText((at - Date.now()) / 1000);
}

function tick() {
  const now = Date.now();
  for (const [td, at] of countdowns) {
    const left = (at - now) / 1000;
    td.textContent = clockText(left);
    td.classList.toggle("overdue", left < 0);
  }
}

function query(extra) {
  const params = new URLSearchParams(extra);
  for (const name of ["policy", "rank", "tier"]) {
    const value = filters.elements[name].value;
    if (value) params.set(name, value);
  }
  return "/v1/tickets?" + params.toString();
}

async function getJson(url) {
  const reply = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (reply.status === 401) {
    location.assign("/signin?next=/board");
    throw new Error("signed out");
  }
  if (!reply.ok) {
    let message = `${reply.status}`;
    try { message += " " + (await reply.json()).error.message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return reply.json();
}

function fill(tableId, rows) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.replaceChildren(...rows);
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell(tr, tableId === "breached" ? "Nothing is breached." : "Nothing is due.", "muted");
    td.colSpan = 10;
    body.appendChild(tr);
  }
}

async function refresh() {
  try {
    const [breached, due] = await Promise.all([
      getJson(query({ breached: "true", limit: "200" })),
      getJson(query({ sort: "next_deadline", limit: "200" })),
    ]);
    countdowns.length = 0;
    const open = breached.items.filter((i) => i.status === "running");
    const breachedKeys = new Set(open.map((i) => i.key));
    fill("breached", open.map((item) => {
      const tr = document.createElement("tr");
      tr.className = "breached";
      cell(tr, item.key, "key");
      cell(tr, item.policy || "–");
      cell(tr, severity(item));
      cell(tr, item.tier || "–");
      cell(tr, (item.breached_clocks || []).join(", "), "bad");
      cell(tr, item.next_deadline ? utc(item.next_deadline) : "no clock running");
      const left = cell(tr, "–", "left");
      if (item.next_deadline) countdown(left, item.next_deadline);
      link(tr, item.key);
      return tr;
    }));
    const rows = due.items.filter((i) => !breachedKeys.has(i.key) && i.due);
    const risky = (i) => i.due.warned || i.due.wall_seconds_left < AT_RISK_S;
    rows.sort((a, b) => (risky(b) - risky(a)) || (Date.parse(a.due.due_at) - Date.parse(b.due.due_at)));
    fill("due", rows.map((item) => {
      const d = item.due;
      const tr = document.createElement("tr");
      const atRisk = risky(item);
      tr.className = atRisk ? "at-risk" : "";
      cell(tr, item.key, "key");
      cell(tr, item.policy || "–");
      cell(tr, severity(item));
      cell(tr, item.tier || "–");
      cell(tr, d.clock);
      const when = cell(tr, d.due_text || utc(d.due_at));
      when.title = utc(d.due_at);
      countdown(cell(tr, "", "left"), d.due_at);
      cell(tr, d.business ? span(d.business_seconds_left) : "24x7");
      const state = d.wall_seconds_left < 0 ? "overdue" : d.warned ? `warned ${d.warning}` : d.paused ? "paused" : atRisk ? "under 1h" : "ok";
      cell(tr, state, atRisk ? "warn" : "");
      link(tr, item.key);
      return tr;
    }));
    document.getElementById("breached-count").textContent = `(${open.length})`;
    const risk = rows.filter(risky).length;
    document.getElementById("due-count").textContent = `(${rows.length}, ${risk} at risk)`;
    statusLine.textContent = "updated " + new Date().toLocaleTimeString() + (due.truncated ? " · more than 1000 matched: narrow the filters" : "");
    statusLine.classList.remove("bad");
  } catch (error) {
    statusLine.textContent = "refresh failed: " + error.message;
    statusLine.classList.add("bad");
  }
}

async function loadFilters() {
  try {
    const policies = await getJson("/v1/policies");
    const tiers = new Set();
    for (const p of policies) {
      const option = document.createElement("option");
      option.value = p.id;
      option.textContent = p.name;
      filters.elements.policy.appendChild(option);
      for (const t of Object.keys(p.tiers)) tiers.add(t);
    }
    for (const t of [...tiers].sort()) {
      const option = document.createElement("option");
      option.value = t;
      option.textContent = t;
      filters.elements.tier.appendChild(option);
    }
  } catch (error) {
    statusLine.textContent = "policies: " + error.message;
  }
}

filters.addEventListener("change", refresh);
filters.addEventListener("submit", (event) => event.preventDefault());
loadFilters();
refresh();
setInterval(refresh, REFRESH_MS);
setInterval(tick, 1000);
