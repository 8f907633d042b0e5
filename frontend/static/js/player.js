// The session player: WHEP playback of every published track, stage state over Socket.IO, live
// captions over Socket.IO (/captions) shown over the video, and a control bar of its own.
// The viewer offers SLOTS recvonly video and audio m-lines; the server puts feed n of each
// kind on slot n (stage message "feeds"), so a panel or a screen share needs no renegotiation.
import { caller, connect, csrfToken, iceServers } from "/static/js/client.js";

const CC_KEY = "rounds.captions"; // the viewer's choice: "on"/"off" and the size, kept per browser

/** Start the page: nothing runs until the template calls this. */
export function init() {
  const SLOTS = 4;
  const root = document.getElementById("player");
  const session = root.dataset.session;
  const main = document.getElementById("player-main");
  const thumbs = document.getElementById("player-thumbs");
  const overlay = document.getElementById("player-overlay");
  const connection = document.getElementById("player-connection");
  const audioBox = document.getElementById("player-audio");
  const muteButton = document.getElementById("player-mute");
  const volume = document.getElementById("player-volume");
  const playButton = document.getElementById("player-play");
  const soundPrompt = document.getElementById("player-sound");
  const ccButton = document.getElementById("player-cc");
  const ccSize = document.getElementById("player-cc-size");
  const captionBox = document.getElementById("player-captions");
  const cueText = document.getElementById("player-cue");
  const csrf = csrfToken();

  const MESSAGES = {
    idle: "Waiting for the session to start.",
    live: "",
    paused: "Stream paused — it resumes by itself when the presenter is back.",
    ended: "Session ended.",
  };

  let pc = null;
  let resource = null;
  let stage = { status: "idle", feeds: [] };
  let muted = true;
  let retryTimer = null;
  let offline = false; // the server cannot be reached: say "Reconnecting…" over the video
  let held = false; // the viewer paused playback (the stream goes on; we stop showing it)

  function say(text) {
    overlay.textContent = offline ? "Reconnecting… the stream resumes by itself when the server is back." : text;
    root.dataset.offline = String(offline);
  }

  function soundHint() {
    // Browsers start media muted; a clear prompt asks for the one click that allows sound.
    soundPrompt.hidden = !(muted && stage.status === "live" && audioBox.childElementCount > 0);
  }

  // Tell the watch-time widget (watch.js) whether the stage is really playing: a paused
  // stream leaves the last frame in a <video> that still looks like it plays.
  let announced = null;
  function announce() {
    const playing = stage.status === "live" && pc?.connectionState === "connected" && !main.paused && main.readyState >= 2;
    if (playing === announced) return;
    announced = playing;
    document.dispatchEvent(new Event(playing ? "rounds:playing" : "rounds:paused"));
  }
  main.addEventListener("playing", announce);
  main.addEventListener("pause", announce);

  function videoTracks() {
    return pc ? pc.getTransceivers().filter((t) => t.receiver.track.kind === "video").map((t) => t.receiver.track) : [];
  }

  function audioTracks() {
    return pc ? pc.getTransceivers().filter((t) => t.receiver.track.kind === "audio").map((t) => t.receiver.track) : [];
  }

  function layout() {
    // Main tile: the screen share when there is one, else the first camera; others as thumbnails.
    const videos = stage.feeds.filter((f) => f.kind === "video" && f.slot < SLOTS);
    const tracks = videoTracks();
    const first = videos.find((f) => f.screen) ?? videos[0];
    const mainTrack = first ? tracks[first.slot] : null;
    if (mainTrack && main.srcObject?.getVideoTracks()[0] !== mainTrack) {
      main.srcObject = new MediaStream([mainTrack]);
    }
    thumbs.replaceChildren();
    for (const feed of videos) {
      if (feed === first || !tracks[feed.slot]) continue;
      const tile = document.createElement("video");
      tile.autoplay = true;
      tile.muted = true;
      tile.playsInline = true;
      tile.dataset.user = String(feed.user_id);
      tile.srcObject = new MediaStream([tracks[feed.slot]]);
      thumbs.append(tile);
    }
    audioBox.replaceChildren();
    const audio = audioTracks();
    for (const feed of stage.feeds.filter((f) => f.kind === "audio" && f.slot < SLOTS)) {
      if (!audio[feed.slot]) continue;
      const element = document.createElement("audio");
      element.autoplay = true;
      element.muted = muted;
      element.volume = Number(volume.value);
      element.srcObject = new MediaStream([audio[feed.slot]]);
      audioBox.append(element);
    }
    say(MESSAGES[stage.status] ?? "");
    root.dataset.status = stage.status;
    soundHint();
    announce();
  }

  function onStage(state) {
    stage = state;
    layout();
    if (state.status === "ended") hangUp();
  }

  function gathered(peer) {
    return new Promise((resolve) => {
      if (peer.iceGatheringState === "complete") return resolve();
      const check = () => peer.iceGatheringState === "complete" && resolve();
      peer.addEventListener("icegatheringstatechange", check);
      setTimeout(resolve, 2000); // WHEP here has no trickle: send what we have after 2 s
    });
  }

  async function watch() {
    clearTimeout(retryTimer);
    if (stage.status === "ended") return;
    pc = new RTCPeerConnection({ iceServers: await iceServers() });
    for (let i = 0; i < SLOTS; i++) pc.addTransceiver("video", { direction: "recvonly" });
    for (let i = 0; i < SLOTS; i++) pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addEventListener("connectionstatechange", () => {
      const state = pc ? pc.connectionState : "closed";
      connection.textContent = { connected: "connected", connecting: "connecting…", new: "connecting…",
        disconnected: "reconnecting…", failed: "reconnecting…" }[state] ?? "offline";
      announce();
      if (state === "failed") retry(3);
    });
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const reply = await fetch(`/whep/${encodeURIComponent(session)}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/sdp", "X-CSRF-Token": csrf },
      body: pc.localDescription.sdp,
    });
    if (reply.status === 503) {
      const wait = Number(reply.headers.get("Retry-After") || "30");
      say(`This stage is full. Trying again in ${wait} s.`);
      return retry(wait);
    }
    if (!reply.ok) {
      const body = await reply.json().catch(() => ({}));
      say(`The stream is not available: ${body.reason ?? reply.status}`);
      return hangUp();
    }
    resource = reply.headers.get("Location");
    await pc.setRemoteDescription({ type: "answer", sdp: await reply.text() });
    layout();
  }

  function retry(seconds) {
    hangUp();
    retryTimer = setTimeout(() => watch().catch(failed), seconds * 1000);
  }

  function hangUp() {
    if (resource) {
      fetch(resource, { method: "DELETE", keepalive: true, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
      resource = null;
    }
    if (pc) {
      pc.close();
      pc = null;
    }
    connection.textContent = "offline";
    announce();
  }

  function failed(error) {
    if (error instanceof TypeError) { // fetch could not reach the server at all
      offline = true;
      say("");
    } else {
      say(`Cannot connect to the stream (${error.message}). Retrying…`);
    }
    connection.textContent = "reconnecting…";
    retry(5);
  }

  function setMuted(value) {
    muted = value;
    muteButton.textContent = muted ? "Unmute" : "Mute";
    muteButton.setAttribute("aria-pressed", String(muted));
    for (const element of audioBox.querySelectorAll("audio")) {
      element.muted = muted;
      element.play().catch(() => {});
    }
    soundHint();
  }
  muteButton.addEventListener("click", () => setMuted(!muted));
  soundPrompt.addEventListener("click", () => setMuted(false));

  playButton.addEventListener("click", () => {
    held = !held;
    playButton.textContent = held ? "Play" : "Pause";
    playButton.setAttribute("aria-pressed", String(held));
    for (const media of [main, ...thumbs.querySelectorAll("video"), ...audioBox.querySelectorAll("audio")]) {
      if (held) media.pause(); else media.play().catch(() => {});
    }
    root.dataset.held = String(held);
  });
  volume.addEventListener("input", () => {
    for (const element of audioBox.querySelectorAll("audio")) element.volume = Number(volume.value);
  });
  document.getElementById("player-fullscreen").addEventListener("click", () => {
    const stageBox = document.getElementById("player-stage");
    if (document.fullscreenElement) document.exitFullscreen();
    else stageBox.requestFullscreen().catch(() => {});
  });
  window.addEventListener("pagehide", hangUp);

  const socket = connect("/stage");
  socket.on("connect", () => {
    const wasOffline = offline;
    offline = false;
    socket.emit("join", { session }, (ack) => {
      if (ack && ack.ok) onStage(ack.stage);
    });
    if (wasOffline && !pc) watch().catch(failed);
  });
  socket.on("disconnect", () => { offline = true; say(""); connection.textContent = "reconnecting…"; });
  socket.on("stage", onStage);
  watch().catch(failed);

  // ---- captions: the latest cue over the video, while CC is on ---------------------------
  const saved = JSON.parse(localStorage.getItem(CC_KEY) || "{}");
  let ccOn = saved.on === true;
  let hideTimer = null;
  ccSize.value = ["s", "m", "l"].includes(saved.size) ? saved.size : "m";

  function showCaptions() {
    ccButton.setAttribute("aria-pressed", String(ccOn));
    root.dataset.cc = ccOn ? "on" : "off";
    captionBox.dataset.size = ccSize.value;
    captionBox.hidden = !ccOn || !cueText.textContent;
    localStorage.setItem(CC_KEY, JSON.stringify({ on: ccOn, size: ccSize.value }));
  }

  function showCue(cue) {
    cueText.textContent = cue.text;
    clearTimeout(hideTimer);
    // A live caption stays up for its reading time, or until the next one replaces it.
    hideTimer = setTimeout(() => { cueText.textContent = ""; showCaptions(); },
      Math.max(1500, cue.end_ms - cue.start_ms) + 1500);
    showCaptions();
  }

  ccButton.addEventListener("click", () => { ccOn = !ccOn; showCaptions(); });
  ccSize.addEventListener("change", showCaptions);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "c" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
    ccOn = !ccOn;
    showCaptions();
  });
  const captions = connect("/captions");
  const callCaptions = caller(captions);
  captions.on("connect", async () => {
    // Cues from before this moment are in the WebVTT file; the overlay shows only new ones.
    const ack = await callCaptions("join", { session });
    if (!ack.ok) ccButton.title = `Captions unavailable: ${ack.reason}`;
    root.dataset.captions = ack.ok ? "joined" : "unavailable";
  });
  captions.on("disconnect", () => { root.dataset.captions = "offline"; });
  captions.on("caption", (cue) => { if (cue.session === session) showCue(cue); });
  showCaptions();
}
