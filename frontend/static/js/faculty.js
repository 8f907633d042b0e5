// Faculty view: the question on stage in large type and the approved queue by votes.
import { Questions, audienceOrder, connectQa, el, plural } from "/static/js/qa.js";

/** Start the page: nothing runs until the template calls this. */
export function init() {
  const root = document.getElementById("faculty-view");
  const $ = (name) => root.querySelector(`[data-qa="${name}"]`);
  const questions = new Questions();
  let staged = null;

  function render() {
    $("stage-text").textContent = staged ? staged.text : "No question on stage.";
    $("stage-meta").textContent = staged ? `${staged.votes} ${plural(staged.votes, "vote")}` : "";
    const open = questions.list((q) => q.status === "approved" && !q.on_stage).sort(audienceOrder);
    $("list").replaceChildren(...open.map((q) => {
      const li = el("li", "fv-item");
      li.dataset.id = q.id;
      li.append(el("span", "fv-votes", q.votes), el("span", "fv-text", q.text));
      if (q.pinned) li.classList.add("pinned");
      return li;
    }));
  }

  connectQa(root.dataset.session, {
    status: (text) => { $("status").textContent = text; },
    error: (ack) => { $("status").textContent = ack.reason || ack.error; },
    state: (state) => { questions.reset(state.questions); staged = state.on_stage; render(); },
    question: (q) => {
      if (q.status === "approved" || q.status === "answered") questions.upsert(q); else questions.remove(q.id);
      if (staged && staged.id === q.id) staged = q.on_stage ? q : null;
      render();
    },
    retract: (id) => { questions.remove(id); render(); },
    stage: (q) => { staged = q; render(); },
  });
}
