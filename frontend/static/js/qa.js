// Q&A client: the connection shared by the attendee panel, the moderator console and the
// faculty view, and the attendee panel itself (``init`` starts it on the page's #qa).
// User text only ever goes in through textContent.
import { caller, connect } from "/static/js/client.js";

const PUBLIC = new Set(["approved", "answered"]);

export function connectQa(sessionId, handlers) {
  const socket = connect("/qa");
  const call = caller(socket);
  const join = async () => {
    const ack = await call("join", { session: sessionId });
    if (ack.ok) handlers.state(ack.state); else handlers.error(ack);
  };
  socket.on("connect", () => { handlers.status("live"); join(); });
  socket.on("disconnect", () => handlers.status("reconnecting…"));
  socket.on("connect_error", () => handlers.status("offline, retrying…"));
  socket.on("question", (q) => { if (q.session === sessionId) handlers.question(q); });
  socket.on("retract", (r) => { if (r.session === sessionId) handlers.retract(r.id); });
  socket.on("stage", (s) => { if (s.session === sessionId) handlers.stage(s.question); });
  socket.on("resync", () => join());  // the server may have missed telling us something
  return { socket, call, join };
}

/** Questions by id, keeping the newest version of each. */
export class Questions {
  constructor() { this.byId = new Map(); }
  reset(list) { this.byId = new Map(list.map((q) => [q.id, q])); }
  upsert(q) {
    const old = this.byId.get(q.id);
    if (old && old.version > q.version) return false;
    this.byId.set(q.id, q);
    return true;
  }
  remove(id) { this.byId.delete(id); }
  list(filter = () => true) { return [...this.byId.values()].filter(filter); }
}

export function audienceOrder(a, b) {
  return (b.pinned - a.pinned) || (b.votes - a.votes) || a.created_at.localeCompare(b.created_at) || a.id - b.id;
}

/** "1 vote", "2 votes": the word for ``n`` of ``word`` (English plural in -s). */
export function plural(n, word) {
  return Number(n) === 1 ? word : `${word}s`;
}

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function authorLabel(q) {
  if (q.author && q.author.name) return q.anonymous ? `${q.author.name} (anonymous to the audience)` : q.author.name;
  return "Anonymous";
}

export function badges(q) {
  const box = el("span", "qa-badges");
  if (q.on_stage) box.append(el("span", "badge stage", "on stage"));
  if (q.pinned) box.append(el("span", "badge pinned", "pinned"));
  if (q.edited) box.append(el("span", "badge", "edited"));
  return box;
}

const MINE_STATUS = {
  pending: "waiting for a moderator",
  approved: "visible to everyone",
  answered: "answered",
  dismissed: "not taken up",
  merged: "merged with a similar question",
};

function attendeePanel(root) {
  const sessionId = root.dataset.session;
  const $ = (name) => root.querySelector(`[data-qa="${name}"]`);
  const audience = new Questions();
  const mine = new Questions();
  const voted = new Set();
  let staged = null;

  function renderItem(q) {
    const li = el("li", "qa-item");
    li.dataset.id = q.id;
    const body = el("div", "qa-body");
    body.append(el("p", "qa-text", q.text));
    const meta = el("p", "qa-meta", q.author ? q.author.name : "Anonymous");
    meta.append(badges(q));
    body.append(meta);
    const vote = el("button", "qa-vote secondary");
    const on = voted.has(q.id);
    vote.type = "button";
    vote.setAttribute("aria-pressed", on ? "true" : "false");
    // The accessible name is the visible text ("3 votes"); aria-pressed says whether it is my upvote.
    vote.title = on ? "Take back your upvote" : "Upvote this question";
    const arrow = el("span", "arrow", "▲");
    arrow.setAttribute("aria-hidden", "true");
    vote.append(arrow, el("span", "qa-votes", q.votes), " ", el("span", "qa-votes-word", plural(q.votes, "vote")));
    vote.disabled = q.status !== "approved";
    vote.addEventListener("click", () => castVote(q.id, !voted.has(q.id)));
    li.append(vote, body);
    return li;
  }

  function render() {
    const open = audience.list((q) => q.status === "approved").sort(audienceOrder);
    $("list").replaceChildren(...open.map(renderItem));
    $("empty").hidden = open.length > 0;
    const answered = audience.list((q) => q.status === "answered").sort(audienceOrder);
    $("answered").replaceChildren(...answered.map(renderItem));
    const own = mine.list().sort((a, b) => a.id - b.id);
    $("mine-box").hidden = own.length === 0;
    $("mine").replaceChildren(...own.map((q) => {
      const li = el("li", `qa-mine-item ${q.status}`);
      li.dataset.id = q.id;
      li.append(el("span", "qa-text", q.text), el("span", "qa-mine-status", MINE_STATUS[q.status] || q.status));
      return li;
    }));
    $("stage").hidden = !staged;
    $("stage-text").textContent = staged ? staged.text : "";
  }

  async function castVote(id, up) {
    const ack = await qa.call("vote", { question: id, up });
    if (ack.ok) {
      if (ack.voted) voted.add(id); else voted.delete(id);
      const q = audience.byId.get(id);
      if (q) audience.byId.set(id, { ...q, votes: ack.votes });
      render();
    } else {
      showError(ack);
    }
  }

  function showError(ack) { const e = $("error"); if (e) e.textContent = ack.reason || ack.error || "refused"; }

  const qa = connectQa(sessionId, {
    status: (text) => { $("status").textContent = text; },
    error: showError,
    state: (state) => {
      audience.reset(state.questions.filter((q) => PUBLIC.has(q.status)));
      mine.reset(state.mine);
      voted.clear();
      state.voted.forEach((id) => voted.add(id));
      staged = state.on_stage;
      render();
    },
    question: (q) => {
      if (q.mine || mine.byId.has(q.id)) mine.upsert({ ...q, mine: true });
      if (PUBLIC.has(q.status)) audience.upsert(q); else audience.remove(q.id);
      if (staged && staged.id === q.id && !q.on_stage) staged = null;
      render();
    },
    retract: (id) => { audience.remove(id); render(); },
    stage: (q) => { staged = q; render(); },
  });

  const form = $("ask");
  if (form) {
    const text = form.elements.text;
    text.addEventListener("input", () => { $("count").textContent = `${text.value.length}/500`; });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      $("error").textContent = "";
      const ack = await qa.call("ask", {
        session: sessionId, text: text.value, anonymous: form.elements.anonymous.checked,
      });
      if (!ack.ok) { showError(ack); return; }
      mine.upsert(ack.question);
      if (PUBLIC.has(ack.question.status)) audience.upsert(ack.question);
      text.value = "";
      $("count").textContent = "0/500";
      render();
    });
  }
}

/** Start the attendee panel of the page's #qa element, if it has one. */
export function init(panel = document.getElementById("qa")) {
  if (panel) attendeePanel(panel);
}
