// Polls of a session: attendees answer once and see results when they are released; the session's
// moderators, faculty and organizers open prepared or new polls, watch live results, close and
// release them. Results are counts only: nobody's answer is shown to anyone else.
import { caller, connect } from "/static/js/client.js";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** Start the page: nothing runs until the template calls this. */
export function init() {
  const root = document.getElementById("polls");
  const session = root.dataset.session;
  const $ = (name) => root.querySelector(`[data-polls="${name}"]`);
  const socket = connect("/polls");
  const call = caller(socket);
  const polls = new Map(); // id -> poll
  const results = new Map(); // id -> results
  const mine = new Map(); // id -> option
  let canRun = false;
  let canAnswer = false;

  function error(ack) { $("error").textContent = ack ? (ack.reason || ack.error || "") : ""; }

  function resultList(poll, result) {
    const list = el("ul", "poll-results");
    list.setAttribute("aria-label", `Results: ${result.total} ${result.total === 1 ? "answer" : "answers"}`);
    poll.options.forEach((text, i) => {
      const li = el("li");
      if (mine.get(poll.id) === i) li.classList.add("mine");
      li.append(el("span", "label", text), el("span", "count", `${result.counts[i]} · ${result.percent[i]}%`));
      const bar = el("meter");
      bar.min = 0; bar.max = 100; bar.value = result.percent[i];
      bar.setAttribute("aria-label", `${text}: ${result.percent[i]}%`);
      li.append(bar);
      list.append(li);
    });
    return list;
  }

  function actionButton(label, handler, secondary = true) {
    const button = el("button", secondary ? "secondary" : "", label);
    button.type = "button";
    button.addEventListener("click", handler);
    return button;
  }

  async function change(event, poll, data) {
    const ack = await call(event, { poll: poll.id, ...data });
    if (!ack.ok) { error(ack); return; }
    error(null);
    polls.set(ack.poll.id, ack.poll);
    results.set(ack.poll.id, ack.results);
    render();
  }

  function renderPoll(poll) {
    const li = el("li", `poll ${poll.status}`);
    li.dataset.poll = String(poll.id);
    li.append(el("p", "poll-question", poll.question));
    const result = results.get(poll.id);
    const answered = mine.has(poll.id);
    if (poll.status === "open" && canAnswer && !answered) {
      const form = el("form");
      const set = el("fieldset");
      const legend = el("legend", "visually-hidden", poll.question);
      set.append(legend);
      poll.options.forEach((text, i) => {
        const label = el("label", "choice");
        const input = el("input");
        input.type = "radio";
        input.name = `poll-${poll.id}`;
        input.value = String(i);
        input.required = true;
        label.append(input, text);
        set.append(label);
      });
      const submit = el("button", "", "Answer");
      submit.type = "submit";
      form.append(set, submit);
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const chosen = form.querySelector("input:checked");
        if (!chosen) return;
        const ack = await call("answer", { poll: poll.id, option: Number(chosen.value) });
        if (!ack.ok) { error(ack); return; }
        error(null);
        mine.set(poll.id, ack.option);
        render();
      });
      li.append(form);
    } else if (answered) {
      li.append(el("p", "poll-note", `Your answer: ${poll.options[mine.get(poll.id)]}.`));
    }
    if (result && (canRun || poll.released)) {
      li.append(resultList(poll, result));
    } else if (answered || poll.status === "closed") {
      li.append(el("p", "poll-note", poll.status === "closed" ? "Poll closed." : "Results appear when the presenter shares them."));
    }
    if (canRun) {
      const actions = el("div", "poll-actions");
      const state = [poll.status === "open" ? "open" : "closed", poll.released ? "results shared" : "results not shared"];
      if (poll.attention) state.push("attention check");
      actions.append(el("span", "poll-note", state.join(" · ")));
      if (poll.status === "open") actions.append(actionButton("Close poll", () => change("close", poll, {})));
      actions.append(actionButton(poll.released ? "Hide results" : "Share results",
        () => change("release", poll, { on: !poll.released })));
      li.append(actions);
    }
    return li;
  }

  function render() {
    const list = [...polls.values()].filter((p) => canRun || p.status === "open" || p.released || mine.has(p.id))
      .sort((a, b) => b.id - a.id);
    const picked = [...$("list").querySelectorAll("input[type=radio]:checked")].map((i) => [i.name, i.value]);
    $("list").replaceChildren(...list.map(renderPoll));
    for (const [name, value] of picked) { // a half-made choice survives a re-render
      const input = $("list").querySelector(`input[name="${name}"][value="${value}"]`);
      if (input) input.checked = true;
    }
    $("empty").hidden = list.length > 0;
    root.hidden = false;
  }

  function renderPrepared(prepared) {
    $("prepared").replaceChildren(...prepared.map((p, i) => {
      const li = el("li");
      li.append(el("span", "", p.question + (p.attention ? " (attention check)" : "")));
      li.append(actionButton("Open", async () => {
        const ack = await call("open", { session, prepared: i });
        if (!ack.ok) error(ack); else error(null);
      }, false));
      return li;
    }));
  }

  socket.on("connect", async () => {
    const ack = await call("join", { session });
    if (!ack.ok) { $("status").textContent = "not connected"; error(ack); return; }
    $("status").textContent = "live";
    canRun = ack.can_run;
    canAnswer = ack.can_answer;
    polls.clear(); results.clear(); mine.clear();
    for (const p of ack.polls) polls.set(p.id, p);
    for (const [id, r] of Object.entries(ack.results)) results.set(Number(id), r);
    for (const [id, option] of Object.entries(ack.mine)) mine.set(Number(id), option);
    $("run").hidden = !canRun;
    if (canRun) renderPrepared(ack.prepared);
    render();
  });
  socket.on("disconnect", () => { $("status").textContent = "reconnecting…"; });
  socket.on("poll", (poll) => { polls.set(poll.id, poll); render(); });
  socket.on("results", (result) => { results.set(result.poll, result); render(); });

  const form = $("new");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const options = form.elements.options.value.split("\n").map((s) => s.trim()).filter(Boolean);
    const ack = await call("open", {
      session, question: form.elements.question.value, options, attention: form.elements.attention.checked,
    });
    if (!ack.ok) { error(ack); return; }
    error(null);
    form.reset();
  });
}
