// omium dashboard: the live parts of server-rendered pages. No framework, no build step.
// - times: shown in the browser's time zone (the UTC instant stays in the title)
// - list: its rows and counts are refetched every 2 s
// - execution: events over SSE; header, timeline and checkpoints refetched as events come
// - forms marked data-action are posted with fetch, so the page stays and updates live

const localTimes = (root) => {
  for (const t of root.querySelectorAll("time[datetime]")) {
    const when = new Date(t.getAttribute("datetime"));
    if (!Number.isNaN(when.getTime())) t.textContent = when.toLocaleString();
  }
};

const flash = (message, failed = false) => {
  const box = document.getElementById("flash");
  if (!box) return;
  box.textContent = message;
  box.classList.toggle("error-detail", failed);
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { box.textContent = ""; }, 8000);
};

const fetchHtml = async (url) => {
  const got = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
  if (!got.ok) throw new Error(`${got.status} ${url}`);
  const doc = new DOMParser().parseFromString(await got.text(), "text/html");
  return doc.body;
};

// list page
const liveRows = (box) => {
  const tick = async () => {
    try {
      const fresh = await fetchHtml(box.dataset.liveRows);
      box.replaceChildren(...fresh.childNodes);
      localTimes(box);
    } catch (err) { /* a missed refresh is retried at the next tick */ }
  };
  setInterval(tick, 2000);
};

// execution page: a checkpoint's state is fetched when first opened
const loadOnOpen = (root) => {
  for (const d of root.querySelectorAll("details[data-src]")) {
    d.addEventListener("toggle", async () => {
      if (!d.open || d.dataset.loaded) return;
      d.dataset.loaded = "1";
      const body = d.querySelector(".cp-body");
      try {
        const fresh = await fetchHtml(d.dataset.src);
        body.classList.remove("muted");
        body.replaceChildren(...fresh.childNodes);
        bindActions(body);
      } catch (err) { body.textContent = `could not load: ${err.message}`; delete d.dataset.loaded; }
    });
  }
};

const postForm = async (form) => {
  const got = await fetch(form.action, {
    method: "POST", body: new FormData(form), credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  let body = {};
  try { body = await got.json(); } catch (err) { body = { message: `${got.status}` }; }
  return { ok: got.ok && body.ok, message: body.message || `${got.status}` };
};

let afterAction = () => {};
const bindActions = (root) => {
  for (const form of root.querySelectorAll("form[data-action]")) {
    if (form.dataset.bound) continue;
    form.dataset.bound = "1";
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      const done = await postForm(form);
      if (button) button.disabled = false;
      flash(done.message, !done.ok);
      if (done.ok) afterAction();
    });
  }
};

const liveExecution = (box) => {
  const events = document.getElementById("events");
  const state = document.getElementById("events-state");
  let lastId = "";
  let source = null;
  let watchUntil = 0;
  let pending = null;

  const summaryOf = (data) => {
    const e = data.event || {};
    const p = e.payload || {};
    const what = p.step || p.checkpoint_id || p.prompt || p.reason || "";
    return `#${e.seq ?? "?"} a${e.attempt ?? "?"} ${e.type || "invalid"} ${what}`.trim();
  };
  const addEvent = (data) => {
    const li = document.createElement("li");
    const d = document.createElement("details");
    const s = document.createElement("summary");
    s.textContent = summaryOf(data);
    const pre = document.createElement("pre");
    pre.textContent = JSON.stringify(data, null, 2);
    d.append(s, pre);
    li.append(d);
    li.dataset.type = (data.event || {}).type || "";
    events.append(li);
    while (events.childElementCount > 2000) events.firstElementChild.remove();
  };

  const open = () => {
    if (source) return;
    const url = `${box.dataset.stream}?after=${lastId}`;
    source = new EventSource(url);
    state.textContent = "(live)";
    source.onmessage = () => {};
    source.addEventListener("end", () => { source.close(); source = null; state.textContent = "(run finished)"; schedule(); });
    source.onerror = () => { if (source && source.readyState === EventSource.CLOSED) { source = null; } };
    const onEvent = (msg) => {
      lastId = msg.lastEventId || lastId;
      addEvent(JSON.parse(msg.data));
      schedule();
    };
    // every event type is its own SSE event name: listen to the ones omium records
    for (const type of TYPES) source.addEventListener(type, onEvent);
  };

  const preserve = (node) => ({
    open: [...node.querySelectorAll("details[id][open]")].map((d) => d.id),
    closed: [...node.querySelectorAll("details[id]:not([open])")].map((d) => d.id),
    values: [...node.querySelectorAll("select[id]")].map((s) => [s.id, s.value]),
  });
  const restore = (node, kept) => {
    for (const [id, value] of kept.values) {
      const s = node.querySelector(`#${CSS.escape(id)}`);
      if (s && [...s.options].some((o) => o.value === value)) s.value = value;
    }
    for (const id of kept.open) { const d = node.querySelector(`#${CSS.escape(id)}`); if (d) d.open = true; }
    for (const id of kept.closed) { const d = node.querySelector(`#${CSS.escape(id)}`); if (d) d.open = false; }
  };

  const refresh = async () => {
    pending = null;
    let fresh;
    try { fresh = await fetchHtml(box.dataset.live); } catch (err) { return; }
    const swap = (id) => {
      const now = box.querySelector(`#${id}`);
      const next = fresh.querySelector(`#${id}`);
      if (!now || !next) return;
      if (now.contains(document.activeElement) && id !== "timeline") return; // typing: later
      if (id === "checkpoints" && now.dataset.count === next.dataset.count) return;
      const kept = preserve(now);
      now.replaceWith(next);
      restore(next, kept);
      localTimes(next);
      loadOnOpen(next);
      bindActions(next);
      diffForm(next);
    };
    swap("summary");
    swap("timeline");
    swap("checkpoints");
    const summary = box.querySelector("#summary");
    if (summary && summary.dataset.active === "true") open();
  };
  const schedule = () => { if (!pending) pending = setTimeout(refresh, 250); };

  afterAction = () => { watchUntil = Date.now() + 20000; schedule(); };
  setInterval(() => {
    const summary = box.querySelector("#summary");
    const active = summary && summary.dataset.active === "true";
    if ((active && !source) || Date.now() < watchUntil) schedule();
  }, 1000);
  open();
};

const TYPES = [
  "execution.submitted", "execution.started", "execution.paused", "execution.resumed",
  "execution.cancelled", "execution.completed", "execution.failed", "execution.timed_out",
  "execution.rolled_back", "step.started", "step.completed", "step.failed", "step.retried",
  "agent.handoff", "llm.call", "tool.call", "checkpoint.created", "human.input_requested",
  "human.input_received", "alert.raised", "alert.resolved", "checkpoint.pruned",
  "checkpoint.runs_deleted", "checkpoint.thread_deleted", "checkpoint.writes_saved", "invalid",
];

const diffForm = (root) => {
  const form = root.querySelector("#diff-form");
  const out = document.getElementById("diff-out");
  if (!form || !out || form.dataset.bound) return;
  form.dataset.bound = "1";
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const query = new URLSearchParams(new FormData(form)).toString();
    try {
      const fresh = await fetchHtml(`${form.action}?${query}`);
      out.replaceChildren(...fresh.childNodes);
    } catch (err) { out.textContent = `could not diff: ${err.message}`; }
  });
};

localTimes(document);
bindActions(document);
loadOnOpen(document);
diffForm(document);
const rows = document.querySelector("[data-live-rows]");
if (rows) liveRows(rows);
const live = document.getElementById("live");
if (live) liveExecution(live);
