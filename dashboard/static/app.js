// The federation dashboard's page: plain JavaScript, no build step, nothing fetched from the
// internet. Data: JSON under api/ and live changes from the Server-Sent Events stream events.
"use strict";
(function () {
  const $ = (sel) => document.querySelector(sel);
  const el = (tag, attrs, ...kids) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else if (k === "class") node.className = v;
      else node[k] = v;
    }
    for (const kid of kids) if (kid != null) node.append(kid);
    return node;
  };
  const CLASS_NAMES = ["available", "charging", "out_of_order", "unknown"];
  const CLASS_WORDS = { available: "available", charging: "charging / in use", out_of_order: "out of order", unknown: "unknown" };
  const STATUS_SIGN = { CONNECTED: "✔", OFFLINE: "✖", PLANNED: "◌", SUSPENDED: "⏸" };
  const EVSE_CLASS = { AVAILABLE: "available", CHARGING: "charging", BLOCKED: "charging", RESERVED: "charging",
    OUTOFORDER: "out_of_order", INOPERATIVE: "out_of_order", UNKNOWN: "unknown", PLANNED: "unknown" };
  const EVSE_SIGN = { available: "●", charging: "◆", out_of_order: "✖", unknown: "○" };

  const state = { members: [], stations: new Map(), version: 0, allowActions: true, selected: null, follow: true, modules: new Set() };

  async function getJSON(url, options) {
    const answer = await fetch(url, options);
    const body = await answer.json();
    if (!answer.ok) throw new Error(body.error || ("HTTP " + answer.status));
    return body;
  }
  const postJSON = (url, body) => getJSON(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

  // ---------------------------------------------------------------- map (canvas, Mercator)
  const canvas = $("#map");
  const ctx = canvas.getContext("2d");
  const view = { cx: 0, cy: 0, scale: 1 };
  let countries = null;
  let drawn = [];
  let pending = false;
  const project = (lon, lat) => {
    const phi = Math.max(-85, Math.min(85, lat)) * Math.PI / 180;
    return [lon * Math.PI / 180, Math.log(Math.tan(Math.PI / 4 + phi / 2))];
  };
  function fit(w, s, e, n) {
    const [x0, y0] = project(w, s), [x1, y1] = project(e, n);
    const width = canvas.clientWidth || 600, height = canvas.clientHeight || 400;
    view.cx = (x0 + x1) / 2; view.cy = (y0 + y1) / 2;
    view.scale = Math.min(width / (x1 - x0), height / (y1 - y0)) * 0.95;
  }
  const toScreen = (x, y) => [(x - view.cx) * view.scale + canvas.clientWidth / 2, (view.cy - y) * view.scale + canvas.clientHeight / 2];
  function redraw() { if (!pending) { pending = true; requestAnimationFrame(draw); } }

  function buildCountries(data) {
    const path = new Path2D();
    for (const country of data.countries) for (const polygon of country.polygons) for (const ring of polygon) {
      ring.forEach(([lon, lat], i) => { const [x, y] = project(lon, lat); if (i) path.lineTo(x, y); else path.moveTo(x, y); });
      path.closePath();
    }
    countries = path;
  }

  function marker(x, y, cls, colour, r) {
    ctx.fillStyle = colour; ctx.strokeStyle = "#fff"; ctx.lineWidth = 1.5;
    ctx.beginPath();
    if (cls === "charging") { ctx.moveTo(x, y - r - 1); ctx.lineTo(x + r + 1, y); ctx.lineTo(x, y + r + 1); ctx.lineTo(x - r - 1, y); ctx.closePath(); }
    else if (cls === "out_of_order") { ctx.rect(x - r, y - r, 2 * r, 2 * r); }
    else { ctx.arc(x, y, r, 0, 2 * Math.PI); }
    if (cls === "unknown") { ctx.fillStyle = "#fff"; ctx.fill(); ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.stroke(); return; }
    ctx.fill(); ctx.stroke();
    if (cls === "out_of_order") {
      ctx.beginPath(); ctx.moveTo(x - r + 2, y - r + 2); ctx.lineTo(x + r - 2, y + r - 2);
      ctx.moveTo(x + r - 2, y - r + 2); ctx.lineTo(x - r + 2, y + r - 2); ctx.stroke();
    }
  }
  const stationClass = (c) => c[1] ? "charging" : c[0] ? "available" : c[2] ? "out_of_order" : "unknown";
  const colourOf = (m) => (state.members[m] || { colour: "#777" }).colour;

  function draw() {
    pending = false;
    const began = performance.now();
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#dfeaf3"; ctx.fillRect(0, 0, w, h);
    if (countries) {
      ctx.save();
      ctx.translate(w / 2, h / 2); ctx.scale(view.scale, -view.scale); ctx.translate(-view.cx, -view.cy);
      ctx.fillStyle = "#f7f5ef"; ctx.fill(countries, "evenodd");
      ctx.lineWidth = 0.8 / view.scale; ctx.strokeStyle = "#9aa3ad"; ctx.stroke(countries);
      ctx.restore();
    }
    // Grid aggregation in screen space: stations closer than CELL px share one bubble.
    // This loop runs for every station on every frame of a pan (17,000 at scale 10): cells sit
    // in an array by screen position and toScreen is inlined (a string key per station and a
    // Map made it 28-42 ms; dashboard/bench.py measures it).
    const CELL = 34;
    const cols = Math.ceil(w / CELL) + 3, rows = Math.ceil(h / CELL) + 3;
    const grid = new Array(cols * rows); // index 0: the cell left of and above the canvas
    const cells = [];
    const perMember = {};
    const ox = w / 2 - view.cx * view.scale, oy = h / 2 + view.cy * view.scale;
    for (const s of state.stations.values()) {
      const sx = s.x * view.scale + ox, sy = oy - s.y * view.scale;
      if (sx < -CELL || sy < -CELL || sx > w + CELL || sy > h + CELL) continue;
      const index = (Math.floor(sy / CELL) + 1) * cols + Math.floor(sx / CELL) + 1;
      let cell = grid[index];
      if (cell === undefined) {
        cell = { n: 0, sx: 0, sy: 0, members: {}, out: 0, charging: 0, list: [] };
        grid[index] = cell; cells.push(cell);
      }
      cell.n++; cell.sx += sx; cell.sy += sy; cell.list.push(s);
      cell.members[s.member] = (cell.members[s.member] || 0) + 1;
      if (s.counts[2]) cell.out++;
      if (s.counts[1]) cell.charging++;
      perMember[s.member] = (perMember[s.member] || 0) + 1;
    }
    drawn = [];
    for (const cell of cells) {
      const x = cell.sx / cell.n, y = cell.sy / cell.n;
      if (cell.n === 1) {
        const s = cell.list[0];
        marker(x, y, stationClass(s.counts), colourOf(s.member), 6);
        drawn.push({ x, y, r: 9, stations: cell.list });
        continue;
      }
      const r = 9 + 3.2 * Math.log2(cell.n);
      let angle = -Math.PI / 2;
      for (const [m, count] of Object.entries(cell.members)) {
        const slice = 2 * Math.PI * count / cell.n;
        ctx.beginPath(); ctx.moveTo(x, y); ctx.arc(x, y, r, angle, angle + slice); ctx.closePath();
        ctx.fillStyle = colourOf(Number(m)); ctx.fill(); angle += slice;
      }
      ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI); ctx.lineWidth = 2; ctx.strokeStyle = "#fff"; ctx.stroke();
      ctx.beginPath(); ctx.arc(x, y, r * 0.55, 0, 2 * Math.PI); ctx.fillStyle = "rgba(255,255,255,.92)"; ctx.fill();
      ctx.fillStyle = "#111"; ctx.font = "600 11px system-ui, sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
      ctx.fillText(String(cell.n), x, y);
      if (cell.out) { // a red square with its count: stations with an EVSE out of order
        ctx.fillStyle = "#b3261e"; ctx.fillRect(x + r * 0.5, y - r - 2, 14, 12);
        ctx.fillStyle = "#fff"; ctx.font = "600 9px system-ui, sans-serif"; ctx.fillText("✖" + cell.out, x + r * 0.5 + 7, y - r + 4);
      }
      drawn.push({ x, y, r, stations: cell.list });
    }
    canvas.dataset.drawn = JSON.stringify(perMember);
    canvas.dataset.groups = String(drawn.length);
    canvas.dataset.drawMs = (performance.now() - began).toFixed(1); // read by dashboard/bench.py
  }

  function zoomAt(factor, px, py) {
    const w = canvas.clientWidth, h = canvas.clientHeight;
    const x = view.cx + (px - w / 2) / view.scale, y = view.cy - (py - h / 2) / view.scale;
    view.scale = Math.max(200, Math.min(2e6, view.scale * factor));
    view.cx = x - (px - w / 2) / view.scale; view.cy = y + (py - h / 2) / view.scale;
    redraw();
  }
  let drag = null;
  canvas.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY, moved: false }; canvas.setPointerCapture(e.pointerId); });
  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (drag.moved) { view.cx -= dx / view.scale; view.cy += dy / view.scale; drag.x = e.clientX; drag.y = e.clientY; redraw(); }
  });
  canvas.addEventListener("pointerup", (e) => {
    const wasDrag = drag && drag.moved; drag = null;
    if (wasDrag) return;
    const rect = canvas.getBoundingClientRect();
    const px = e.clientX - rect.left, py = e.clientY - rect.top;
    let best = null, bestD = Infinity;
    for (const item of drawn) {
      const d = Math.hypot(item.x - px, item.y - py);
      if (d <= item.r + 4 && d < bestD) { best = item; bestD = d; }
    }
    if (!best) return;
    if (best.stations.length === 1) openStation(best.stations[0].key);
    else if (view.scale < 1.5e6) zoomAt(3, best.x, best.y);
    else openStation(best.stations[0].key);
  });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const rect = canvas.getBoundingClientRect();
    zoomAt(e.deltaY < 0 ? 1.4 : 1 / 1.4, e.clientX - rect.left, e.clientY - rect.top);
  }, { passive: false });
  $("#zoom-in").addEventListener("click", () => zoomAt(1.6, canvas.clientWidth / 2, canvas.clientHeight / 2));
  $("#zoom-out").addEventListener("click", () => zoomAt(1 / 1.6, canvas.clientWidth / 2, canvas.clientHeight / 2));
  $("#zoom-reset").addEventListener("click", () => { fit(-11, 35, 32, 66); redraw(); });
  window.addEventListener("resize", redraw);

  // ---------------------------------------------------------------- members, stations
  function renderLegend() {
    const legend = $("#legend");
    legend.replaceChildren(...state.members.map((m, i) => {
      const t = m.totals || {};
      return el("li", { "data-member": m.name, "data-stations": String(t.stations || 0), "data-out-of-order": String(t.out_of_order || 0), "data-charging": String(t.charging || 0) },
        el("span", { class: "sw", style: "background:" + m.colour }),
        el("strong", { text: m.name }),
        " " + (t.stations || 0) + " stations · " + (t.available || 0) + " available · " + (t.charging || 0) + " charging · " + (t.out_of_order || 0) + " out of order");
    }));
    const select = $("#log-form [name=member]");
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "", text: "any" }), ...state.members.map((m) => el("option", { value: m.name, text: m.name })));
    select.value = chosen;
  }
  function setMembers(members) { if (members) { state.members = members; renderLegend(); redraw(); } }

  function putStation(row) {
    const [key, lat, lon, member, counts] = row;
    const [x, y] = project(lon, lat);
    state.stations.set(key, { key, lat, lon, member, counts, x, y });
  }
  async function loadStations() {
    const data = await getJSON("api/stations");
    state.stations.clear();
    data.stations.forEach(putStation);
    state.version = data.version;
    const list = $("#station-list");
    list.replaceChildren(...[...state.stations.keys()].slice(0, 5000).map((k) => el("option", { value: k })));
    redraw();
  }

  // ---------------------------------------------------------------- station panel
  async function openStation(key) {
    state.selected = key;
    const body = $("#station-body");
    $("#station-empty").hidden = true; body.hidden = false;
    body.replaceChildren(el("p", { class: "muted", text: "loading " + key + "…" }));
    let data;
    try { data = await getJSON("api/stations/" + key.split("/").map(encodeURIComponent).join("/")); }
    catch (err) { body.replaceChildren(el("p", { class: "st-bad", text: String(err.message) })); return; }
    if (state.selected !== key) return;
    const loc = data.location;
    const evses = el("ul", { class: "evses" });
    for (const evse of loc.evses) {
      const cls = EVSE_CLASS[evse.status] || "unknown";
      evses.append(el("li", { "data-evse": evse.uid },
        el("span", { class: "status", "data-class": cls, text: EVSE_SIGN[cls] + " " + evse.status }),
        " " + evse.uid + (evse.evse_id ? " (" + evse.evse_id + ")" : ""),
        el("br"),
        el("span", { class: "muted", text: evse.connectors.map((c) => "connector " + c.id + ": " + c.standard + ", " + c.power_type + ", " + (c.max_power_kw != null ? c.max_power_kw + " kW" : "power unknown") + (c.tariff_ids.length ? ", tariff " + c.tariff_ids.join(", ") : ", no tariff")).join("; ") })));
    }
    const quotes = el("div", { id: "quotes" }, el("p", { class: "muted", text: "asking each member's app for its price…" }));
    const kids = [
      el("h3", { text: loc.name || loc.id }),
      el("p", { text: [loc.address, loc.city, loc.country].filter(Boolean).join(", ") }),
      el("p", {}, "Member ", el("strong", { text: data.member || "(not a configured member)" }), " · party " + loc.country_code + "/" + loc.party_id + " · id " + loc.id),
      el("h3", { text: "EVSEs" }), evses,
      el("h3", { text: "Price for a driver of each member" }), quotes,
    ];
    if (state.allowActions) kids.push(startForm(loc));
    body.replaceChildren(...kids);
    const first = loc.evses[0];
    if (!first) { quotes.replaceChildren(el("p", { text: "no EVSE" })); return; }
    try {
      const q = await postJSON("api/quote", { country_code: loc.country_code, party_id: loc.party_id, location_id: loc.id, evse_uid: first.uid, connector_id: first.connectors[0].id });
      const table = el("table", {}, el("caption", { text: "EVSE " + first.uid + ", connector " + first.connectors[0].id + ": " + q.energy_kwh + " kWh in " + q.minutes + " min" }),
        el("thead", {}, el("tr", {}, el("th", { text: "driver of" }), el("th", { text: "tariff in words" }), el("th", { text: "price" }))));
      const tbody = el("tbody");
      for (const row of q.quotes) {
        tbody.append(el("tr", { "data-member": row.member }, el("td", { text: row.member }),
          el("td", { text: row.error ? "—" : row.tariff }), el("td", { text: row.error ? "no quote: " + row.error : row.price })));
      }
      table.append(tbody);
      const full = (q.tariffs || []).map((t) => el("p", { class: "tariff-full", "data-tariff": t.id },
        el("strong", { text: "Tariff " + t.id + ": " }), t.error ? "not known to the hub (" + t.error + ")" : t.words));
      quotes.replaceChildren(table, ...full);
    } catch (err) { quotes.replaceChildren(el("p", { class: "st-bad", text: "no quote: " + err.message })); }
  }

  function startForm(loc) {
    const members = state.members.filter((m) => m.can_drive);
    const who = el("select", { name: "member", id: "start-member" }, ...members.map((m) => el("option", { value: m.name, text: m.name + " driver" })));
    const other = members.find((m) => m.name !== memberOfStation(loc));
    if (other) who.value = other.name;
    const evse = el("select", { name: "evse", id: "start-evse" }, ...loc.evses.map((e) => el("option", { value: e.uid, text: e.uid + " (" + e.status + ")" })));
    const out = el("output", { id: "start-result", "aria-live": "polite" });
    const button = el("button", { type: "button", id: "start-button", text: "Start a roaming session" });
    button.addEventListener("click", async () => {
      button.disabled = true; out.textContent = "sending START_SESSION through the hub…";
      try {
        const r = await postJSON("api/start", { member: who.value, country_code: loc.country_code, party_id: loc.party_id, location_id: loc.id, evse_uid: evse.value });
        const c = r.command;
        out.textContent = "START_SESSION from " + r.member + " (driver " + r.driver + "): " + c.state + (c.message ? " — " + c.message : "") + ". Watch the message flow and the sessions table.";
        out.className = c.state === "ACCEPTED" ? "st-ok" : "st-bad";
      } catch (err) { out.textContent = "refused: " + err.message; out.className = "st-bad"; }
      button.disabled = false;
    });
    return el("div", { class: "act" }, el("label", {}, "Driver of ", who), el("label", {}, "EVSE ", evse), button, out);
  }
  function memberOfStation(loc) {
    const s = state.stations.get(loc.country_code + "/" + loc.party_id + "/" + loc.id);
    return s && state.members[s.member] ? state.members[s.member].name : null;
  }
  $("#station-search").addEventListener("change", (e) => findStation(e.target.value));
  $("#station-search").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); findStation(e.target.value); } });
  function findStation(text) {
    const needle = text.trim().toUpperCase();
    if (!needle) return;
    let key = state.stations.has(needle) ? needle : null;
    if (!key) for (const k of state.stations.keys()) if (k.toUpperCase().endsWith("/" + needle) || k.toUpperCase().includes(needle)) { key = k; break; }
    if (!key) { $("#station-empty").hidden = false; $("#station-empty").textContent = "No station matches " + text + "."; $("#station-body").hidden = true; return; }
    if (key === state.selected) return; // "change" fires again when the field loses focus
    const s = state.stations.get(key);
    view.cx = s.x; view.cy = s.y; view.scale = Math.max(view.scale, 40000); redraw();
    openStation(key);
  }

  // ---------------------------------------------------------------- hub: parties, flow, log
  function renderParties(parties) {
    $("#parties").replaceChildren(...parties.map((p) => el("li", { "data-status": p.status, "data-party": p.party },
      (p.member || p.platform || p.party) + " " + p.role + " ", el("span", { class: "st", text: (STATUS_SIGN[p.status] || "?") + " " + p.status }))));
  }
  function renderRates(rates) {
    $("#flow-total").textContent = rates.per_second.toFixed(1);
    $("#flow-errors").textContent = rates.errors_per_second ? "(" + rates.errors_per_second.toFixed(1) + " errors/s)" : "";
    const max = Math.max(0.1, ...rates.by_module.map((r) => r.per_second));
    $("#flow-modules tbody").replaceChildren(...rates.by_module.map((r) => el("tr", { "data-module": r.module }, el("td", { text: r.module }),
      el("td", { class: "num" }, r.per_second.toFixed(1), el("span", { class: "bar", style: "width:" + Math.round(60 * r.per_second / max) + "px" })))));
    $("#flow-pairs tbody").replaceChildren(...rates.by_pair.map((r) => el("tr", {}, el("td", { text: r.from + " → " + r.to }), el("td", { class: "num", text: r.per_second.toFixed(1) }))));
    for (const r of rates.by_module) addModule(r.module);
    spark(rates.series);
  }
  function spark(series) {
    const c = $("#spark"), g = c.getContext("2d");
    const dpr = window.devicePixelRatio || 1, w = c.clientWidth, h = c.clientHeight;
    c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const max = Math.max(1, ...series), bw = w / series.length;
    g.fillStyle = "#4a7bb7";
    series.forEach((v, i) => { const bh = (h - 2) * v / max; g.fillRect(i * bw, h - bh, Math.max(1, bw - 1), bh); });
  }
  function addModule(module) {
    if (!module || state.modules.has(module)) return;
    state.modules.add(module);
    $("#log-form [name=module]").append(el("option", { value: module, text: module }));
  }
  function logRow(m) {
    const status = m.ocpi_status == null ? "—" : String(m.ocpi_status);
    const trace = m.correlation_id ? el("button", { type: "button", class: "link", text: m.correlation_id.slice(0, 8), title: "this message's hops (correlation id " + m.correlation_id + ")" }) : "";
    if (trace) trace.addEventListener("click", () => showTrace(m.correlation_id));
    // A message of a charging session: the whole session (every correlation id) as one trace.
    const session = m.session ? el("button", { type: "button", class: "session", text: "session " + m.session.slice(0, 12), title: "every message of charging session " + m.session, "data-session": m.session }) : null;
    if (session) session.addEventListener("click", () => showSession(m.session));
    const path = String(m.path || "").replace(/^https?:\/\/[^/]+/, "");
    return el("tr", { "data-module": m.module || "", "data-correlation": m.correlation_id || "", "data-session": m.session || "" },
      el("td", { text: String(m.timestamp || "").slice(11, 23) }), el("td", { text: m.hop }),
      el("td", { text: m.from_member + " → " + m.to_member }), el("td", { text: m.module }),
      el("td", { text: m.method + " " + path.slice(0, 70) }),
      el("td", { class: m.ok ? "st-ok" : "st-bad", text: (m.ok ? "✔ " : "✖ ") + status }),
      el("td", { class: "num", text: m.latency_ms == null ? "" : Number(m.latency_ms).toFixed(1) }),
      el("td", {}, trace, session ? " " : null, session));
  }
  function appendLive(rows) {
    if (!state.follow || !rows.length) return;
    const tbody = $("#log-table tbody");
    for (const m of rows) tbody.prepend(logRow(m));
    while (tbody.rows.length > 200) tbody.deleteRow(tbody.rows.length - 1);
  }
  async function search() {
    const form = new FormData($("#log-form"));
    const params = new URLSearchParams();
    for (const k of ["q", "module", "member", "status"]) if (form.get(k)) params.set(k, form.get(k));
    const data = await getJSON("api/messages?" + params);
    $("#log-table tbody").replaceChildren(...data.messages.map(logRow));
  }
  $("#log-form").addEventListener("submit", (e) => { e.preventDefault(); search().catch(showProblem); });
  $("#log-form [name=follow]").addEventListener("change", (e) => { state.follow = e.target.checked; });
  const showTrace = (id) => showTimeline("api/trace/" + encodeURIComponent(id), "correlation id", id);
  const showSession = (key) => showTimeline("api/session/" + encodeURIComponent(key), "charging session", key);
  function bodyText(text) {
    try { return JSON.stringify(JSON.parse(text), null, 1); } catch (err) { return text; }
  }
  async function showTimeline(url, kind, id) {
    const data = await getJSON(url);
    $("#trace").hidden = false; $("#trace-kind").textContent = kind; $("#trace-id").textContent = id;
    $("#trace").dataset.kind = kind;
    const total = Math.max(1, data.total_ms);
    $("#trace-hops").replaceChildren(...data.hops.map((h) => {
      const span = el("span", { class: "span" + (h.ok ? "" : " bad"), style: "left:" + (100 * h.offset_ms / total) + "%;width:" + Math.max(0.5, 100 * (h.latency_ms || 0) / total) + "%" });
      const bodies = h.request_body != null || h.response_body != null ? el("details", { class: "bodies" }, el("summary", { text: "request / response bodies" }),
        el("pre", { class: "request", text: "request: " + (h.request_body ? bodyText(h.request_body) : "(none)") }),
        el("pre", { class: "response", text: "response: " + (h.response_body ? bodyText(h.response_body) : "(none)") })) : null;
      return el("li", { "data-hop": h.hop, "data-label": h.label || "" },
        el("div", {}, el("strong", { text: h.label || h.module }), " " + h.hop + " " + h.from_member + " → " + h.to_member, el("br"),
          el("span", { class: "muted", text: "+" + h.offset_ms.toFixed(1) + " ms · " + (h.latency_ms == null ? "?" : Number(h.latency_ms).toFixed(1)) + " ms · " }),
          el("span", { class: h.ok ? "st-ok" : "st-bad", text: "OCPI " + (h.ocpi_status == null ? "—" : h.ocpi_status) + " / HTTP " + (h.http_status == null ? "—" : h.http_status) })),
        el("div", {}, el("div", { class: "track" }, span), el("span", { class: "muted", text: h.method + " " + String(h.path || "").replace(/^https?:\/\/[^/]+/, "") }), bodies));
    }));
    $("#trace").scrollIntoView({ block: "nearest" });
  }

  // ---------------------------------------------------------------- sessions, money
  function renderSessions(rows) {
    $("#sessions tbody").replaceChildren(...(rows.length ? rows.map((s) => el("tr", { "data-session": s.id },
      el("td", { text: s.emsp }), el("td", { text: s.cpo }), el("td", { text: s.location }), el("td", { text: s.status }),
      el("td", { class: "num", text: s.kwh == null ? "" : Number(s.kwh).toFixed(2) }), el("td", { class: "num", text: s.kw == null ? "" : Number(s.kw).toFixed(1) }),
      el("td", { class: "num", text: s.cost == null ? "" : Number(s.cost).toFixed(2) + " " + (s.currency || "") })))
      : [el("tr", {}, el("td", { colSpan: 7, class: "muted", text: "no session in progress" }))]));
  }
  function renderSettlement(lines) {
    const name = (party) => { const p = state.partyMember && state.partyMember[party]; return p ? p + " (" + party + ")" : party; };
    $("#settlement tbody").replaceChildren(...(lines.length ? lines.map((l) => el("tr", {},
      el("td", { text: name(l.emsp) }), el("td", { text: name(l.cpo) }), el("td", { class: "num", text: String(l.cdr_count) }),
      el("td", { class: "num", text: Number(l.incl_vat).toFixed(2) + " " + l.currency + " (" + Number(l.excl_vat).toFixed(2) + " excl. VAT)" })))
      : [el("tr", {}, el("td", { colSpan: 4, class: "muted", text: "no CDR routed yet" }))]));
  }
  const CHECK_SIGN = { equal: "✔", differs: "✖", review: "⚠", "no invoice": "…", "not read": "?" };
  function amount(incl, excl, currency) {
    if (incl == null && excl == null) return "";
    return (incl != null ? incl : excl) + " " + currency + (excl != null && incl != null ? " (" + excl + " excl. VAT)" : " excl. VAT");
  }
  function renderInvoices(d) {
    const rows = d.rows.map((r) => el("tr", { "data-cdr": r.cdr, "data-session": r.session_id || "", "data-check": r.check },
      el("td", {}, el("code", { text: r.cdr }), el("br"), el("span", { class: "muted", text: "session " + (r.session_id || "?") + (r.end ? " · ended " + r.end : "") })),
      el("td", { text: r.cpo + " → " + r.emsp }),
      el("td", { class: "num cdr-total", text: amount(r.cdr_incl_vat, r.cdr_excl_vat, r.currency) }),
      el("td", { class: "num invoice-total", text: r.invoice == null ? "—" : "no. " + r.invoice + " " + r.invoice_status + ": " + amount(r.invoice_incl_vat, r.invoice_excl_vat, r.invoice_currency) }),
      el("td", { class: "check check-" + r.check.replace(" ", "-"), text: CHECK_SIGN[r.check] + " " + r.words })));
    $("#invoices tbody").replaceChildren(...(rows.length ? rows
      : [el("tr", {}, el("td", { colSpan: 5, class: "muted", text: "no CDR yet (read from the CPOs' control and the eMSPs' app APIs)" }))]));
    $("#invoices tfoot").replaceChildren(...d.totals.map((t) => el("tr", { "data-currency": t.currency },
      el("th", { scope: "row", text: "Total " + t.currency }),
      el("td", { text: d.count > d.rows.length ? "newest " + d.rows.length + " of " + d.count + " shown" : "" }),
      el("td", { class: "num", text: amount(t.cdr_incl_vat, t.cdr_excl_vat, t.currency) }),
      el("td", { class: "num", text: t.invoiced + " invoiced: " + amount(t.invoice_incl_vat, t.invoice_excl_vat, t.currency) }),
      el("td", { class: "check", text: t.words }))));
  }
  function showProblem(err) { const p = $("#problems"); p.hidden = false; p.textContent = String(err.message || err); }
  function renderProblems(problems) {
    const list = Object.entries(problems || {});
    const p = $("#problems"); p.hidden = !list.length;
    p.textContent = list.map(([k, v]) => k + ": " + v).join(" · ");
  }

  // ---------------------------------------------------------------- live updates (SSE)
  function connect() {
    const source = new EventSource("events");
    const live = $("#live");
    source.addEventListener("open", () => { live.textContent = "live"; live.classList.add("on"); });
    source.addEventListener("error", () => { live.textContent = "reconnecting…"; live.classList.remove("on"); });
    const on = (name, fn) => source.addEventListener(name, (e) => fn(JSON.parse(e.data)));
    on("hello", (d) => {
      state.allowActions = d.allow_actions;
      state.federationControl = d.federation_control;
      $("#faults").hidden = !d.federation_control;
      loadFaults().catch(showProblem);
      setMembers(d.members); renderPartyMap(d.parties); renderParties(d.parties); renderRates(d.rates);
      renderSessions(d.sessions); renderSettlement(d.settlement); renderInvoices(d.invoices); renderProblems(d.problems);
      if (d.stations_version !== state.version) loadStations().catch(showProblem);
    });
    on("members", setMembers);
    on("parties", (d) => { renderPartyMap(d); renderParties(d); loadFaults().catch(showProblem); });
    on("stations", (d) => {
      if (d.version <= state.version) return;
      d.stations.forEach(putStation); state.version = d.version; setMembers(d.members);
      if (state.selected && d.stations.some((r) => r[0] === state.selected)) refreshSelected();
    });
    on("stations-reload", (d) => { setMembers(d.members); loadStations().catch(showProblem); });
    on("flow", (d) => { renderRates(d.rates); appendLive(d.new); });
    on("sessions", renderSessions);
    on("settlement", renderSettlement);
    on("invoices", renderInvoices);
    on("problems", renderProblems);
  }
  // ---------------------------------------------------------------- fault switches (demo)
  const FAULT_ACTIONS = [["offline", "Take offline"], ["online", "Bring online"], ["slow", "Make slow (2 s)"], ["fail", "Make failing"], ["heal", "Heal"]];
  function platformWords(p) {
    const words = [p.online ? "online" : "OFFLINE"];
    if (p.delay > 0) words.push("slow " + p.delay + " s");
    if (p.failing) words.push("failing");
    return words.join(", ");
  }
  function renderFaultRow(m) {
    const buttons = FAULT_ACTIONS.map(([action, label]) => {
      const button = el("button", { type: "button", text: label, "data-action": action });
      button.addEventListener("click", () => faultSwitch(m.name, action, label));
      return button;
    });
    return el("li", { "data-member": m.name, "data-cpo": m.cpo.online ? "online" : "offline", "data-emsp": m.emsp.online ? "online" : "offline" },
      el("strong", { text: m.name }), " ",
      el("span", { class: "fstate", text: "CPO " + platformWords(m.cpo) + " · app " + platformWords(m.emsp) }), " ",
      el("span", { class: "fbuttons" }, ...buttons));
  }
  async function loadFaults() {
    if (!state.federationControl) return;
    const d = await getJSON("api/federation");
    $("#faults-list").replaceChildren(...d.members.map(renderFaultRow));
  }
  async function faultSwitch(name, action, label) {
    const result = $("#faults-result");
    const which = { both: "", cpo: " (CPO)", emsp: " (app)" }[$("#fault-platform").value] || "";
    label = label + which;
    result.className = ""; result.textContent = name + ": " + label.toLowerCase() + "…";
    document.querySelectorAll("#faults-list button").forEach((b) => { b.disabled = true; });
    try {
      const platform = $("#fault-platform").value;
      const query = platform === "both" ? "" : "?platform=" + encodeURIComponent(platform);
      const m = await postJSON("api/federation/" + encodeURIComponent(name) + "/" + action + query, {});
      const row = document.querySelector('#faults-list li[data-member="' + CSS.escape(name) + '"]');
      if (row) row.replaceWith(renderFaultRow(m));
      result.className = "ok"; result.textContent = name + ": " + label.toLowerCase() + " done";
    } catch (error) {
      result.className = "error"; result.textContent = name + ": " + label.toLowerCase() + " failed: " + error.message;
    } finally {
      document.querySelectorAll("#faults-list button").forEach((b) => { b.disabled = false; });
    }
  }
  function renderPartyMap(parties) {
    state.partyMember = {};
    for (const p of parties) if (p.member) state.partyMember[p.party] = p.member;
  }
  async function refreshSelected() { // statuses only: the quotes and the form stay
    const key = state.selected;
    const data = await getJSON("api/stations/" + key.split("/").map(encodeURIComponent).join("/"));
    for (const evse of data.location.evses) {
      const node = document.querySelector('#station-body li[data-evse="' + CSS.escape(evse.uid) + '"] .status');
      if (!node) continue;
      const cls = EVSE_CLASS[evse.status] || "unknown";
      node.dataset.class = cls; node.textContent = EVSE_SIGN[cls] + " " + evse.status;
    }
  }

  fit(-11, 35, 32, 66);
  getJSON("api/geography").then((d) => { buildCountries(d); redraw(); }).catch(showProblem);
  connect();
  redraw();
})();
