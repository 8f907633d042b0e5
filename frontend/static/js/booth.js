// Booth page: public chat, a private thread with staff on request, sharing contact details.
// All user text goes in with textContent.
import { caller, connect, timeElement, zoneTimes } from "/static/js/client.js";

/** Start the page: nothing runs until the template calls this. */
export function init() {
  const root = document.querySelector("article.booth-page[data-booth]");
  const booth = root.dataset.booth;
  const part = (name) => root.querySelector(`[data-hall="${name}"]`);
  const lists = { public: part("messages"), private: part("private") };
  const socket = connect("/hall");
  const call = caller(socket);
  let me = null;
  let thread = null;
  let view = "public";
  let seen = new Set();

  function status(text) { part("status").textContent = text; }
  function error(text) { part("error").textContent = text || ""; }

  function render(msg) {
    if (seen.has(msg.id)) return;
    seen.add(msg.id);
    const list = msg.thread === null ? lists.public : lists.private;
    const li = document.createElement("li");
    li.dataset.message = String(msg.id);
    li.className = `msg from-${msg.from}`;
    const who = document.createElement("span");
    who.className = "author";
    const mine = me && msg.from === "visitor" && msg.author === me.pseudonym;
    who.textContent = mine ? "You" : (msg.from === "staff" ? `${msg.author} (staff)` : msg.author);
    const when = timeElement(msg.at); // the conference's zone, the viewer's own beside it
    const text = document.createElement("p");
    text.className = "text";
    text.textContent = msg.text;
    li.append(who, " ", when, text);
    list.append(li);
    list.scrollTop = list.scrollHeight;
  }

  function showShared(shared) {
    const box = part("shared");
    if (!box) return;
    box.hidden = !shared;
    if (shared) {
      part("shared-fields").textContent = shared.fields.join(", ");
      { const t = zoneTimes(shared.shared_at, { withDate: true }); part("shared-at").textContent = `(${t.text}${t.own ? `, ${t.own} your time` : ""})`; }
    }
  }

  function showStaff(online) {
    part("staff").textContent = online.length ? `Staff online: ${online.join(", ")}` : "No staff online right now";
  }

  function select(which) {
    view = which;
    lists.public.hidden = which !== "public";
    lists.private.hidden = which !== "private";
    part("tab-public").setAttribute("aria-selected", String(which === "public"));
    part("tab-private").setAttribute("aria-selected", String(which === "private"));
  }

  socket.on("connect", async () => {
    // A reconnect is a new connection: enter again and reload what we missed.
    const ack = await call("enter", { booth });
    if (!ack.ok) { status("not connected"); error(ack.reason); return; }
    status("connected");
    // The booth's own staff get the staff view here; their console is the place to answer.
    me = ack.me || null;
    if (me) part("pseudonym").textContent = me.pseudonym;
    seen = new Set();
    lists.public.replaceChildren();
    lists.private.replaceChildren();
    ack.messages.forEach(render);
    thread = ack.thread ? ack.thread.id : null;
    if (ack.thread) ack.thread.messages.forEach(render);
    if (me) showShared(me.shared);
    if (ack.booth.staff_online) showStaff(ack.booth.staff_online);
  });
  socket.on("disconnect", () => status("reconnecting…"));
  socket.on("connect_error", (err) => status(err.message === "sign in first" ? "sign in first" : "reconnecting…"));
  socket.on("message", render);
  socket.on("staff", (data) => showStaff(data.online));
  socket.on("deleted", (data) => {
    const li = root.querySelector(`li[data-message="${Number(data.message)}"]`);
    if (li) li.remove();
  });
  socket.on("banned", () => {
    status("removed");
    error("The organizers have removed you from this booth's chat.");
    part("chat").querySelector("button").disabled = true;
  });

  part("tab-public").addEventListener("click", () => select("public"));
  part("tab-private").addEventListener("click", async () => {
    if (thread === null) {
      const ack = await call("private", { booth });
      if (!ack.ok) { error(ack.reason); return; }
      thread = ack.thread.id;
      ack.thread.messages.forEach(render);
    }
    select("private");
  });

  part("chat").addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = event.target.elements.text;
    const text = box.value.trim();
    if (!text) return;
    const ack = await call("chat", { booth, text, thread: view === "private" ? thread : null });
    if (!ack.ok) { error(ack.reason); return; }
    error("");
    box.value = "";
    render(ack.message);
  });

  const shareForm = part("share");
  if (shareForm) {
    shareForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const fields = [...shareForm.querySelectorAll("input[name=fields]:checked")].map((box) => box.value);
      const ack = await call("share", { booth, fields });
      if (!ack.ok) { error(ack.reason); return; }
      error("");
      if (me) me.shared = ack.shared;
      showShared(ack.shared);
    });
    part("withdraw").addEventListener("click", async () => {
      const ack = await call("withdraw", { booth });
      if (!ack.ok) { error(ack.reason); return; }
      showShared(null);
    });
  }
}
