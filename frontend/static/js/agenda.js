// The agenda page: a learner picks sessions into their own agenda (kept in this browser), may
// show only those, and exports them as an iCalendar file (GET /agenda.ics?sessions=...).

/** Start the page: nothing runs until the template calls this. */
export function init() {
  const tools = document.getElementById("agenda-tools");
  if (!tools) return;
  const key = `rounds.agenda.${tools.dataset.conference}`;
  const picked = new Set(JSON.parse(localStorage.getItem(key) || "[]"));
  const only = document.getElementById("agenda-only");
  const exportLink = document.getElementById("agenda-export");
  const items = [...document.querySelectorAll(".agenda li.session[data-session]")];

  function update() {
    localStorage.setItem(key, JSON.stringify([...picked]));
    for (const li of items) {
      const on = picked.has(li.dataset.session);
      const button = li.querySelector("button.agenda-pick");
      button.setAttribute("aria-pressed", String(on));
      button.textContent = on ? "In my agenda ✓" : "Add to my agenda";
      li.classList.toggle("picked", on);
      li.hidden = only.checked && !on;
    }
    for (const day of document.querySelectorAll("section.day")) {
      day.hidden = only.checked && !day.querySelector("li.session:not([hidden])");
    }
    document.getElementById("agenda-count").textContent = String(picked.size);
    if (exportLink) {
      const ids = items.map((li) => li.dataset.session).filter((id) => picked.has(id));
      exportLink.href = ids.length ? `/agenda.ics?sessions=${ids.map(encodeURIComponent).join(",")}` : "/agenda.ics";
      exportLink.textContent = ids.length ? "Export my agenda (.ics)" : "Export the whole agenda (.ics)";
    }
  }

  for (const li of items) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary agenda-pick";
    const title = li.querySelector("h3")?.textContent.trim() ?? "";
    button.title = `Add or remove “${title}”`;
    button.addEventListener("click", () => {
      const id = li.dataset.session;
      if (picked.has(id)) picked.delete(id); else picked.add(id);
      update();
    });
    li.querySelector(".when").append(button);
  }
  only.addEventListener("change", update);
  tools.hidden = false;
  update();
}
