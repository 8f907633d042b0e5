// Exhibit hall: search and tier filter over the booth grid; keep "staff online" current without
// a socket per booth.

/** Start the page: nothing runs until the template calls this. */
export function init() {
  const REFRESH_MS = 30000;
  const search = document.getElementById("hall-search");
  const tier = document.getElementById("hall-tier");
  const cards = [...document.querySelectorAll(".booth-card[data-search]")];

  function filter() {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const card of cards) {
      const match = words.every((w) => card.dataset.search.includes(w)) && (!tier.value || card.dataset.tier === tier.value);
      card.hidden = !match;
      if (match) shown += 1;
    }
    document.getElementById("hall-count").textContent = `${shown} ${shown === 1 ? "booth" : "booths"}`;
    document.getElementById("hall-none").hidden = shown > 0;
  }
  if (search && tier) {
    search.addEventListener("input", filter);
    tier.addEventListener("change", filter);
  }

  async function refresh() {
    const response = await fetch("/api/booths", { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const { booths } = await response.json();
    for (const booth of booths) {
      const line = document.querySelector(`[data-staff-online="${CSS.escape(booth.id)}"]`);
      if (line) {
        line.textContent = booth.staff_online.length
          ? `Staff online: ${booth.staff_online.join(", ")}` : "No staff online right now";
      }
    }
  }

  setInterval(() => { refresh().catch(() => {}); }, REFRESH_MS);
}
