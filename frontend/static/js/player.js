// The session player: WHEP playback of every published track, stage state over Socket.IO.
// The viewer offers SLOTS recvonly video and audio m-lines; the server puts feed n of each
// kind on slot n (stage message "feeds"), so a panel or a screen share needs no renegotiation.
import { connect, csrfToken, iceServers } from "/static/js/client.js";

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

  function say(text) {
    overlay.textContent = text;
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
      connection.textContent = pc ? pc.connectionState : "offline";
      announce();
      if (pc && pc.connectionState === "failed") retry(3);
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
    say(`Cannot connect to the stream (${error.message}). Retrying…`);
    retry(5);
  }

  muteButton.addEventListener("click", () => {
    muted = !muted;
    muteButton.textContent = muted ? "Unmute" : "Mute";
    muteButton.setAttribute("aria-pressed", String(muted));
    for (const element of audioBox.querySelectorAll("audio")) {
      element.muted = muted;
      element.play().catch(() => {});
    }
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
    socket.emit("join", { session }, (ack) => {
      if (ack && ack.ok) onStage(ack.stage);
    });
  });
  socket.on("stage", onStage);
  watch().catch(failed);
}
