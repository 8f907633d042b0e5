// Booth console: visitors now, chat threads with unread markers, leads, analytics, resources.
// All user text goes in with textContent.
import { caller, connect, csrfToken, timeElement, zoneTimes } from "/static/js/client.js";

/** Start the page: nothing runs until the template calls this. */
export function init() {
  const root = document.querySelector("article.console[data-booth]");
  const booth = root.dataset.booth;
  const canBan = root.dataset.canBan === "true";
  const part = (name) => root.querySelector(`[data-console="${name}"]`);
  const csrf = csrfToken();
  const socket = connect("/hall");
  const call = caller(socket);
  let current = null; // null: the public chat, else a thread id
  const unread = new Map(); // "" or thread id -> count

  function error(text) { part("error").textContent = text || ""; }
  function key(thread) { return thread === null ? "" : String(thread); }

  function tab(thread, label) {
    let button = part("threads").querySelector(`[data-thread="${key(thread)}"]`);
    if (!button) {
      button = document.createElement("button");
      button.type = "button";
      button.className = "tab";
      button.setAttribute("role", "tab");
      button.dataset.thread = key(thread);
      const name = document.createElement("span");
      name.className = "label";
      const badge = document.createElement("span");
      badge.className = "unread";
      badge.dataset.unread = key(thread);
      badge.hidden = true;
      button.append(name, " ", badge);
      part("threads").append(button);
    }
    if (!button.dataset.bound) { // the template's "Public chat" tab is bound here too
      button.dataset.bound = "true";
      button.addEventListener("click", () => open(thread));
    }
    let name = button.querySelector(".label");
    if (!name) { // a tab from markup without a label span: wrap its text
      name = document.createElement("span");
      name.className = "label";
      button.prepend(name);
    }
    if (label) name.textContent = label;
    return button;
  }

  function setUnread(thread, count) {
    unread.set(key(thread), count);
    const badge = part("threads").querySelector(`[data-unread="${key(thread)}"]`);
    if (badge) { badge.textContent = count ? String(count) : ""; badge.hidden = !count; }
  }

  function render(msg) {
    const list = part("messages");
    if (list.querySelector(`li[data-message="${Number(msg.id)}"]`)) return;
    const li = document.createElement("li");
    li.dataset.message = String(msg.id);
    li.className = `msg from-${msg.from}`;
    const who = document.createElement("span");
    who.className = "author";
    who.textContent = msg.author;
    const when = timeElement(msg.at); // the conference's zone, the viewer's own beside it
    const text = document.createElement("p");
    text.className = "text";
    text.textContent = msg.text;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link";
    remove.textContent = "Delete";
    remove.addEventListener("click", async () => {
      const ack = await call("delete", { booth, message: msg.id });
      if (!ack.ok) error(ack.reason); else li.remove();
    });
    li.append(who, " ", when, text, remove);
    if (canBan && msg.from === "visitor") {
      const ban = document.createElement("button");
      ban.type = "button";
      ban.className = "link danger";
      ban.textContent = "Ban from booth";
      ban.addEventListener("click", async () => {
        const ack = await call("ban", { booth, message: msg.id });
        if (!ack.ok) error(ack.reason);
      });
      li.append(" ", ban);
    }
    list.append(li);
    list.scrollTop = list.scrollHeight;
  }

  async function open(thread) {
    current = thread;
    for (const button of part("threads").querySelectorAll("[data-thread]")) {
      button.setAttribute("aria-selected", String(button.dataset.thread === key(thread)));
    }
    part("messages").replaceChildren();
    if (thread === null) {
      const ack = await call("enter", { booth });
      if (ack.ok) ack.messages.forEach(render);
    } else {
      const ack = await call("thread", { booth, thread });
      if (!ack.ok) { error(ack.reason); return; }
      ack.thread.messages.forEach(render);
    }
    setUnread(thread, 0);
  }

  function showPresence(p) {
    part("visitors").textContent = String(p.visitors);
    part("named").textContent = p.shared.length ? p.shared.join(", ") : "nobody yet";
    part("staff").textContent = p.staff.length ? p.staff.join(", ") : "nobody";
  }

  async function refreshLeads() {
    const response = await fetch(`/api/booths/${encodeURIComponent(booth)}/leads`);
    if (!response.ok) return;
    const { leads } = await response.json();
    const rows = leads.map((lead) => {
      const tr = document.createElement("tr");
      tr.dataset.lead = String(lead.id);
      for (const value of [lead.name, lead.email, lead.profession, lead.organisation, lead.fields.join(", ")]) {
        const td = document.createElement("td");
        td.textContent = value || "";
        tr.append(td);
      }
      const when = document.createElement("td");
      when.append(timeElement(lead.shared_at, { withDate: true }));
      tr.append(when);
      return tr;
    });
    part("leads").replaceChildren(...rows);
    part("no-leads").hidden = leads.length > 0;
  }

  async function refreshStats() {
    const response = await fetch(`/api/booths/${encodeURIComponent(booth)}/analytics`);
    if (!response.ok) return;
    const stats = await response.json();
    for (const name of ["visits", "unique_visitors", "downloads"]) {
      root.querySelector(`[data-stat="${name}"]`).textContent = String(stats[name]);
    }
    root.querySelector('[data-stat="median_dwell_s"]').textContent =
      stats.median_dwell_s === null ? "–" : `${stats.median_dwell_s} s`;
    part("hours").replaceChildren(...stats.per_hour.map((h) => {
      const tr = document.createElement("tr");
      for (const value of [zoneTimes(h.hour).text, h.visits, h.downloads]) {
        const td = document.createElement("td");
        td.textContent = String(value);
        tr.append(td);
      }
      return tr;
    }));
  }

  socket.on("connect", async () => {
    const ack = await call("enter", { booth });
    if (!ack.ok) { part("status").textContent = "not connected"; error(ack.reason); return; }
    part("status").textContent = "connected";
    tab(null, "Public chat");
    for (const t of ack.threads) { tab(t.id, t.visitor); setUnread(t.id, t.unread); }
    showPresence(ack.presence);
    part("messages").replaceChildren();
    if (current === null) ack.messages.forEach(render); else await open(current);
  });
  socket.on("disconnect", () => { part("status").textContent = "reconnecting…"; });
  socket.on("message", (msg) => {
    if (msg.thread === current) {
      render(msg);
      if (current !== null) call("read", { booth, thread: current });
    } else if (msg.from === "visitor") {
      setUnread(msg.thread, (unread.get(key(msg.thread)) || 0) + 1);
    }
  });
  socket.on("thread", (data) => { tab(data.thread.id, data.thread.visitor); setUnread(data.thread.id, data.thread.unread); });
  socket.on("presence", (p) => { showPresence(p); refreshStats().catch(() => {}); });
  async function refreshThreads() {
    // A visitor who shares (or withdraws) changes how their thread is labelled.
    const ack = await call("threads", { booth });
    if (ack.ok) for (const t of ack.threads) tab(t.id, t.visitor);
  }

  socket.on("lead", () => { refreshLeads().catch(() => {}); refreshThreads().catch(() => {}); });
  socket.on("deleted", (data) => {
    const li = part("messages").querySelector(`li[data-message="${Number(data.message)}"]`);
    if (li) li.remove();
  });

  part("chat").addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = event.target.elements.text;
    const text = box.value.trim();
    if (!text) return;
    const ack = await call("chat", { booth, text, thread: current });
    if (!ack.ok) { error(ack.reason); return; }
    error("");
    box.value = "";
    render(ack.message);
  });

  part("upload").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const response = await fetch(`/api/booths/${encodeURIComponent(booth)}/resources`, {
      method: "POST", body: new FormData(form), headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) { part("upload-error").textContent = body.reason || "upload failed"; return; }
    part("upload-error").textContent = "";
    const li = document.createElement("li");
    li.dataset.file = String(body.resource.id);
    const link = document.createElement("a");
    link.href = body.resource.url;
    link.textContent = body.resource.title;
    const name = document.createElement("small");
    name.textContent = `(${body.resource.filename})`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link";
    remove.dataset.deleteFile = String(body.resource.id);
    remove.textContent = "Remove";
    li.append(link, " ", name, " ", remove);
    part("files").append(li);
    form.reset();
  });

  part("files").addEventListener("click", async (event) => {
    const id = event.target.dataset.deleteFile;
    if (!id) return;
    const response = await fetch(`/api/booths/${encodeURIComponent(booth)}/resources/${Number(id)}`, {
      method: "DELETE", headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
    });
    if (response.ok) event.target.closest("li").remove();
  });

  // The server renders leads and hours in UTC for pages without scripts; these follow the rule.
  refreshStats().catch(() => {});
  refreshLeads().catch(() => {});
  setInterval(() => { refreshStats().catch(() => {}); }, 30000);
}
