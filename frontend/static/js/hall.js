// Exhibit hall: keep "staff online" current without a socket per booth.

/** Start the page: nothing runs until the template calls this. */
export function init() {
  const REFRESH_MS = 30000;

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
