// The studio: preview camera and microphone, go live over WHIP, share the screen as its own
// WHIP resource marked a=content:slides (RFC 4796) so viewers show it as the main tile.
import { connect, csrfToken, iceServers } from "/static/js/client.js";

/** Start the page: nothing runs until the template calls this. */
export function init() {
  const root = document.querySelector(".studio");
  const session = root.dataset.session;
  const camera = document.getElementById("studio-camera");
  const screen = document.getElementById("studio-screen");
  const cameraSelect = document.getElementById("studio-camera-select");
  const micSelect = document.getElementById("studio-mic-select");
  const goLive = document.getElementById("studio-golive");
  const stopButton = document.getElementById("studio-stop");
  const shareButton = document.getElementById("studio-share");
  const status = document.getElementById("studio-status");
  const badge = document.getElementById("studio-state");
  const elapsed = document.getElementById("studio-elapsed");
  const meter = document.getElementById("studio-level");
  const viewers = document.getElementById("studio-viewers");
  const csrf = csrfToken();
  document.getElementById("studio-whip-url").textContent = `${location.origin}/whip/${session}`;

  let preview = null; // MediaStream of camera + microphone
  let screenStream = null;
  const live = { camera: null, screen: null }; // { pc, resource }
  let liveSince = null; // Date.now() when the camera went live
  let audio = null; // { context, analyser, data }

  function say(text) {
    status.textContent = text;
  }

  // One state drives the badge and the buttons: "off" (Go live enabled, Stop disabled),
  // "connecting" (both disabled), "live" (Stop enabled), "lost" (Go live AND Stop enabled: one
  // press of Go live publishes again, whatever the interruption was).
  function setState(state) {
    root.dataset.state = state;
    root.dataset.live = String(state === "live");
    badge.textContent = { off: "Not live", connecting: "Connecting…", live: "Live", lost: "Interrupted" }[state];
    goLive.disabled = state === "connecting" || state === "live";
    stopButton.disabled = state === "off" || state === "connecting";
    if (state === "live" && liveSince === null) liveSince = Date.now();
    if (state === "off") liveSince = null;
    tick();
  }

  function tick() {
    if (liveSince === null || root.dataset.state !== "live") { elapsed.textContent = "00:00"; return; }
    const s = Math.floor((Date.now() - liveSince) / 1000);
    const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    elapsed.textContent = hh ? `${hh}:${two(mm)}:${two(ss)}` : `${two(mm)}:${two(ss)}`;
  }

  function listen(stream) {
    // Microphone level from a WebAudio AnalyserNode: RMS of the time-domain signal, 0..1.
    const track = stream.getAudioTracks()[0];
    if (!track || !window.AudioContext) return;
    audio?.context.close();
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    audio = { context, analyser, data: new Float32Array(analyser.fftSize) };
  }

  function level() {
    if (audio) {
      if (audio.context.state === "suspended") audio.context.resume().catch(() => {});
      audio.analyser.getFloatTimeDomainData(audio.data);
      let sum = 0;
      for (const v of audio.data) sum += v * v;
      const rms = Math.sqrt(sum / audio.data.length);
      meter.value = Math.min(1, rms * 4);
    }
  }

  async function devices() {
    const all = await navigator.mediaDevices.enumerateDevices();
    for (const [select, kind] of [[cameraSelect, "videoinput"], [micSelect, "audioinput"]]) {
      const current = select.value;
      select.replaceChildren();
      for (const device of all.filter((d) => d.kind === kind)) {
        const option = document.createElement("option");
        option.value = device.deviceId;
        option.textContent = device.label || `${kind} ${select.length + 1}`;
        select.append(option);
      }
      if (current) select.value = current;
    }
  }

  async function startPreview() {
    preview?.getTracks().forEach((t) => t.stop());
    preview = await navigator.mediaDevices.getUserMedia({
      video: cameraSelect.value ? { deviceId: { exact: cameraSelect.value } } : { width: 1280, height: 720 },
      audio: micSelect.value ? { deviceId: { exact: micSelect.value } } : true,
    });
    camera.srcObject = preview;
    listen(preview);
    await devices();
  }

  function gathered(pc) {
    return new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && resolve());
      setTimeout(resolve, 2000);
    });
  }

  function markSlides(sdp) {
    // Every video m-line of the screen offer is slides.
    return sdp.replace(/(m=video[^\r\n]*\r\n)/g, "$1a=content:slides\r\n");
  }

  async function publish(tracks, slides) {
    const pc = new RTCPeerConnection({ iceServers: await iceServers() });
    for (const track of tracks) pc.addTransceiver(track, { direction: "sendonly" });
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const offer = slides ? markSlides(pc.localDescription.sdp) : pc.localDescription.sdp;
    const reply = await fetch(`/whip/${encodeURIComponent(session)}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/sdp", "X-CSRF-Token": csrf },
      body: offer,
    });
    if (!reply.ok) {
      pc.close();
      const body = await reply.json().catch(() => ({}));
      throw new Error(body.reason ?? `HTTP ${reply.status}`);
    }
    const resource = reply.headers.get("Location");
    await pc.setRemoteDescription({ type: "answer", sdp: await reply.text() });
    pc.addEventListener("connectionstatechange", () => {
      const state = pc.connectionState;
      if (state === "failed" || state === "closed" || state === "disconnected") {
        if (Object.values(live).some((entry) => entry?.pc === pc)) {
          setState("lost");
          say("Connection lost. Press Go live to publish again.");
        }
      }
      if (state === "connected") { setState("live"); say(screenStream ? "Live, sharing the screen." : "Live."); }
    });
    return { pc, resource };
  }

  async function unpublish(name) {
    const entry = live[name];
    live[name] = null;
    if (!entry) return;
    entry.pc.close();
    // After a server restart the resource is gone (404) or the server is still down: either way
    // there is nothing left to end, so a failed DELETE is not an error here.
    await fetch(entry.resource, { method: "DELETE", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } })
      .catch(() => {});
  }

  goLive.addEventListener("click", async () => {
    setState("connecting");
    say("Connecting…");
    try {
      // Whatever was interrupted is ended first, so one press always publishes afresh.
      await unpublish("screen");
      await unpublish("camera");
      if (!preview) await startPreview();
      live.camera = await publish(preview.getTracks(), false);
      if (screenStream) live.screen = await publish(screenStream.getVideoTracks(), true);
      if (live.camera.pc.connectionState === "connected") { setState("live"); say("Live."); }
    } catch (error) {
      say(`Could not go live: ${error.message}`);
      setState(live.camera ? "lost" : "off");
    }
  });

  stopButton.addEventListener("click", async () => {
    setState("connecting");
    await unpublish("screen");
    await unpublish("camera");
    setState("off");
    say("Not live.");
  });

  shareButton.addEventListener("click", async () => {
    if (screenStream) {
      screenStream.getTracks().forEach((t) => t.stop());
      screenStream = null;
      screen.hidden = true;
      shareButton.textContent = "Share screen";
      await unpublish("screen");
      return;
    }
    try {
      screenStream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch (error) {
      say(`Screen sharing was not started: ${error.message}`);
      return;
    }
    screen.srcObject = screenStream;
    screen.hidden = false;
    shareButton.textContent = "Stop sharing";
    screenStream.getVideoTracks()[0].addEventListener("ended", () => shareButton.click());
    if (live.camera) {
      try {
        live.screen = await publish(screenStream.getVideoTracks(), true);
      } catch (error) {
        say(`Could not share the screen: ${error.message}`);
      }
    }
  });

  for (const select of [cameraSelect, micSelect]) {
    select.addEventListener("change", () => startPreview().catch((e) => say(e.message)));
  }
  window.addEventListener("pagehide", () => {
    for (const entry of [live.screen, live.camera]) {
      if (entry) fetch(entry.resource, { method: "DELETE", keepalive: true, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
    }
  });
  setState("off");
  setInterval(tick, 1000);
  const loop = () => { level(); requestAnimationFrame(loop); };
  requestAnimationFrame(loop);
  startPreview().catch((error) => say(`Camera or microphone unavailable: ${error.message}`));

  // The viewer count: the /stage join answers with it for the session's faculty, moderators and
  // organizers; joining again every 10 s keeps it fresh (stage events carry no count).
  const stage = connect("/stage");
  function refreshViewers() {
    if (!stage.connected) return;
    stage.emit("join", { session }, (ack) => {
      if (ack && ack.ok && typeof ack.stage.viewers === "number") {
        viewers.textContent = String(ack.stage.viewers);
      }
    });
  }
  stage.on("connect", refreshViewers);
  stage.on("disconnect", () => { viewers.textContent = "–"; });
  setInterval(refreshViewers, 10000);
}
