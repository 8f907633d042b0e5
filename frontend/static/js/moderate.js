// Moderator console: the incoming queue live, one-click moves and keyboard shortcuts.
import { Questions, audienceOrder, authorLabel, badges, connectQa, el, plural } from "/static/js/qa.js";

/** Start the page: nothing runs until the template calls this. */
export function init() {
  const root = document.getElementById("moderate");
  const sessionId = root.dataset.session;
  const $ = (name) => root.querySelector(`[data-qa="${name}"]`);
  const questions = new Questions();
  let staged = null;
  let selected = null;  // question id

  const byCreated = (a, b) => a.created_at.localeCompare(b.created_at) || a.id - b.id;

  function columns() {
    return {
      pending: questions.list((q) => q.status === "pending").sort(byCreated),
      approved: questions.list((q) => q.status === "approved").sort(audienceOrder),
      done: questions.list((q) => !["pending", "approved"].includes(q.status)).sort((a, b) => b.id - a.id),
    };
  }

  function actionButton(label, key, handler) {
    const button = el("button", "secondary small", label);
    button.type = "button";
    button.title = `${label} (${key})`;
    button.dataset.action = label.toLowerCase().replace(/\s+/g, "-");
    button.addEventListener("click", (event) => { event.stopPropagation(); handler(); });
    return button;
  }

  function renderItem(q) {
    const li = el("li", `qa-item mod ${q.status}`);
    li.dataset.id = q.id;
    li.tabIndex = -1;
    if (q.id === selected) li.classList.add("selected");
    const body = el("div", "qa-body");
    body.append(el("p", "qa-text", q.text));
    if (q.original_text) body.append(el("p", "qa-original", `Asked as: ${q.original_text}`));
    const meta = el("p", "qa-meta", `#${q.id} · ${authorLabel(q)} · ${q.votes} ${plural(q.votes, "vote")}`);
    meta.append(badges(q));
    body.append(meta);
    if (q.status === "dismissed" && q.dismiss_reason) body.append(el("p", "qa-reason", `Dismissed: ${q.dismiss_reason}`));
    if (q.status === "merged") body.append(el("p", "qa-reason", `Merged into #${q.merged_into}`));
    const actions = el("div", "qa-actions");
    if (q.status === "pending" || q.status === "dismissed") actions.append(actionButton("Approve", "a", () => act(q, "approve")));
    if (q.status === "pending" || q.status === "approved") {
      actions.append(actionButton("Dismiss", "d", () => dismiss(q)), actionButton("Merge", "m", () => merge(q)));
    }
    if (q.status !== "merged" && q.status !== "dismissed") actions.append(actionButton("Edit", "e", () => edit(q)));
    if (q.status === "approved") {
      actions.append(
        actionButton(q.pinned ? "Unpin" : "Pin", "p", () => act(q, "pin", { on: !q.pinned })),
        actionButton(q.on_stage ? "Off stage" : "On stage", "s", () => act(q, "stage", { on: !q.on_stage })),
        actionButton("Answered", "x", () => act(q, "answered")),
      );
    }
    li.append(body, actions);
    li.addEventListener("click", () => { selected = q.id; render(); });
    return li;
  }

  function render() {
    const cols = columns();
    $("pending").replaceChildren(...cols.pending.map(renderItem));
    $("approved").replaceChildren(...cols.approved.map(renderItem));
    $("done").replaceChildren(...cols.done.map(renderItem));
    $("pending-count").textContent = cols.pending.length;
    $("approved-count").textContent = cols.approved.length;
    $("stage").hidden = !staged;
    $("stage-text").textContent = staged ? staged.text : "";
    const node = selected && root.querySelector(`li[data-id="${selected}"]`);
    if (node && !root.contains(document.activeElement?.closest?.("dialog"))) node.scrollIntoView({ block: "nearest" });
  }

  function showError(ack) { $("error").textContent = ack ? (ack.reason || ack.error || "") : ""; }

  async function act(q, action, extra = {}) {
    const ack = await qa.call("moderate", { question: q.id, action, ...extra });
    if (!ack.ok) { showError(ack); return; }
    showError(null);
    [ack.question, ...ack.others].forEach((item) => questions.upsert(item));
    render();
  }

  // One dialog: free text (a reason, an edit) or, given ``choices`` ([value, label] pairs), a pick
  // from a list (the question to merge into).
  function ask(label, value = "", choices = null) {
    const dialog = $("dialog");
    const input = choices ? $("dialog-choice") : $("dialog-input");
    $("dialog-label").textContent = label;
    $("dialog-label").htmlFor = input.id;
    $("dialog-input").hidden = Boolean(choices);
    $("dialog-hint").hidden = Boolean(choices);
    $("dialog-choice").hidden = !choices;
    if (choices) {
      $("dialog-choice").replaceChildren(...choices.map(([v, text]) => {
        const option = el("option", "", text);
        option.value = String(v);
        return option;
      }));
    } else {
      input.value = value;
    }
    return new Promise((resolve) => {
      const cancel = () => dialog.close("cancel");
      $("dialog-cancel").onclick = cancel;
      dialog.onclose = () => resolve(dialog.returnValue === "ok" ? input.value : null);
      dialog.returnValue = "";
      dialog.showModal();
      input.focus();
    });
  }

  // Enter saves the dialog (as its OK button would); Shift+Enter keeps a new line in the text.
  $("dialog-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("dialog-form").requestSubmit($("dialog-ok"));
    }
  });

  async function dismiss(q) {
    const reason = await ask("Reason for dismissing (moderators only)");
    if (reason !== null) act(q, "dismiss", { reason });
  }

  async function edit(q) {
    const text = await ask("Edit the question (the original is kept)", q.text);
    if (text !== null) act(q, "edit", { text });
  }

  async function merge(q) {
    const targets = questions.list((t) => t.id !== q.id && (t.status === "pending" || t.status === "approved"))
      .sort(byCreated)
      .map((t) => [t.id, `#${t.id} · ${t.text.length > 80 ? `${t.text.slice(0, 79)}…` : t.text}`]);
    if (!targets.length) { showError({ reason: "there is no other open question to merge into" }); return; }
    const into = await ask(`Merge #${q.id} into`, "", targets);
    if (into !== null) act(q, "merge", { into: Number.parseInt(into, 10) });
  }

  function moveSelection(step) {
    const cols = columns();
    const order = [...cols.pending, ...cols.approved];
    if (!order.length) return;
    const at = order.findIndex((q) => q.id === selected);
    const next = at < 0 ? 0 : Math.min(order.length - 1, Math.max(0, at + step));
    selected = order[next].id;
    render();
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target.closest("input, textarea, select, dialog")) return;
    const q = selected && questions.byId.get(selected);
    const keys = {
      j: () => moveSelection(1),
      k: () => moveSelection(-1),
      a: () => q && act(q, "approve"),
      d: () => q && dismiss(q),
      e: () => q && edit(q),
      m: () => q && merge(q),
      p: () => q && act(q, "pin", { on: !q.pinned }),
      s: () => q && act(q, "stage", { on: !q.on_stage }),
      x: () => q && act(q, "answered"),
    };
    const run = keys[event.key];
    if (run) { event.preventDefault(); run(); }
  });

  const qa = connectQa(sessionId, {
    status: (text) => { $("status").textContent = text; },
    error: showError,
    state: (state) => { questions.reset(state.questions); staged = state.on_stage; render(); },
    question: (q) => { questions.upsert(q); render(); },
    retract: () => {},
    stage: (q) => { staged = q; render(); },
  });
}
