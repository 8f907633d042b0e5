// Every page: each server-rendered <time data-tz> (in the conference's zone) gains the viewer's
// own time beside it where the two read differently (the one time zone rule, client.js).
import { zoneTimes } from "/static/js/client.js";

/** Start the page: nothing runs until the template calls this. */
export function init() {
  for (const node of document.querySelectorAll("time[data-tz][datetime]")) {
    if (node.querySelector(".your-time")) continue;
    const { own } = zoneTimes(node.dateTime, { withDate: node.dataset.tz === "date" });
    if (!own) continue;
    const mine = document.createElement("span");
    mine.className = "your-time";
    mine.textContent = ` (${own} your time)`;
    node.append(mine);
  }
}
