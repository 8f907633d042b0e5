// Watch time on the session page: /watch heartbeats with the tab's visibility and the player's
// playing state, the attendee's running watch time, and the attention check dialog.
// Text only ever goes in through textContent.
import { caller, connect } from "/static/js/client.js";

/** Start the watch-time widget of the page's #watch element, if it has one. */
export function init(root = document.getElementById("watch")) {
  if (root) start(root);
}

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return (h ? `${h}:` : "") + `${mm}:${String(r).padStart(2, "0")}`;
}

function newTabId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

function start(root) {
  const session = root.dataset.session;
  const everyMs = Math.max(1, Number(root.dataset.heartbeat) || 15) * 1000;
  const tab = newTabId(); // one per page load: two tabs are two tabs, and count once
  const $ = (name) => root.querySelector(`[data-watch="${name}"]`);
  const timeEl = $("time"), statusEl = $("status"), dialog = $("dialog"), errorEl = $("error");
  const answerBtn = $("answer");

  // The player tells us with rounds:playing / rounds:paused when it can; otherwise its <video>.
  let playerSays = null;
  document.addEventListener("rounds:playing", () => { playerSays = true; beat(); });
  document.addEventListener("rounds:paused", () => { playerSays = false; beat(); });
  const player = document.getElementById("player");
  if (player) {
    for (const name of ["playing", "pause", "ended", "waiting", "emptied"]) {
      player.addEventListener(name, () => beat(), true); // media events do not bubble: capture
    }
    // The server counts once it has seen media reach this player (RTCP reports take a few
    // seconds): ask again shortly after playback starts rather than a whole interval later.
    player.addEventListener("playing", () => setTimeout(beat, 4000), true);
  }
  function playing() {
    if (playerSays !== null) return playerSays;
    const video = document.querySelector("#player video");
    return !!video && !video.paused && !video.ended && video.readyState >= 3;
  }
  function visible() { return document.visibilityState === "visible"; }

  let acked = 0, ackedAt = performance.now(), counting = false, prompt = null;

  function render() {
    const extra = counting ? Math.min((performance.now() - ackedAt) / 1000, everyMs / 1000) : 0;
    timeEl.textContent = clock(acked + extra);
  }
  setInterval(render, 1000);

  function status(text, isCounting) {
    statusEl.textContent = text;
    statusEl.classList.toggle("counting", !!isCounting);
  }

  function explain(ack) {
    if (ack.attention) return "Paused: please confirm you are still following.";
    if (ack.attention_poll) return "Paused: answer the poll to keep counting.";
    if (ack.counting) return "Counting your watch time.";
    if (!visible()) return "Paused: this tab is hidden.";
    if (!playing()) return "Paused: the player is not playing.";
    return "Not counting yet: the stream has not reached your player, or this is a break or outside the accredited time.";
  }

  const socket = connect("/watch");
  const call = caller(socket);

  function apply(ack) {
    acked = ack.watch_seconds; ackedAt = performance.now(); counting = ack.counting;
    render();
    status(explain(ack), ack.counting);
    if (ack.attention) showPrompt(ack.attention); else hidePrompt();
  }

  let inFlight = false, again = false;
  async function beat() {
    if (!socket.connected) return;
    if (inFlight) { again = true; return; } // at most one at a time; the latest state follows
    inFlight = true;
    const ack = await call("heartbeat", { session, tab, visible: visible(), playing: playing() });
    inFlight = false;
    if (ack.ok) apply(ack); else status(`Watch time not recorded: ${ack.reason || ack.error}`, false);
    if (again) { again = false; beat(); }
  }

  function showPrompt(id) {
    if (prompt === id && dialog.open) return;
    prompt = id;
    errorEl.textContent = "";
    if (!dialog.open) {
      if (typeof dialog.showModal === "function") dialog.showModal(); else dialog.setAttribute("open", "");
    }
    answerBtn.focus();
  }
  function hidePrompt() {
    prompt = null;
    if (dialog.open) dialog.close();
  }

  answerBtn.addEventListener("click", async () => {
    if (!prompt) return hidePrompt();
    answerBtn.disabled = true;
    const ack = await call("attention", { session, prompt });
    answerBtn.disabled = false;
    if (ack.ok || ack.error === "conflict") { hidePrompt(); if (ack.ok) apply(ack); else beat(); }
    else errorEl.textContent = ack.reason || ack.error;
  });
  dialog.addEventListener("cancel", (e) => e.preventDefault()); // Escape does not dismiss it unanswered

  socket.on("attention", (data) => { if (data && data.session === session) { showPrompt(data.prompt); beat(); } });
  socket.on("connect", () => { status("Connected.", false); beat(); });
  socket.on("disconnect", () => { counting = false; status("Reconnecting… watch time is not counted meanwhile.", false); });
  socket.on("connect_error", () => status("Offline, retrying…", false));
  document.addEventListener("visibilitychange", () => beat());
  setInterval(beat, everyMs);
}
