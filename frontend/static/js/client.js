// What the pages share: Socket.IO connections whose calls always settle (an ack, or a timeout
// answered like an error ack), the CSRF token for requests that change something, and the ICE
// servers for WebRTC. Importing this module does nothing; page modules export an init function
// that their template calls.
import { io } from "/static/vendor/socket.io.esm.min.js";

export const ACK_TIMEOUT_MS = 10000;

// Websocket first: the server's direct broadcast path (server/rooms/qa_fanout.py) serves sockets
// that connected over websocket. Where websocket is blocked (some proxies), the client falls back
// to HTTP long-polling (tryAllTransports, socket.io-client 4.8) instead of failing to connect.
const TRANSPORTS = { transports: ["websocket", "polling"], tryAllTransports: true };

/** A Socket.IO connection to ``namespace`` on this origin (several namespaces share one). */
export function connect(namespace, options = {}) {
  return io(namespace, { ...TRANSPORTS, ...options });
}

/** ``call(event, data)`` on ``socket``: resolves with the ack, or ``{ok: false, error: "timeout"}``. */
export function caller(socket, timeoutMs = ACK_TIMEOUT_MS) {
  return (event, data) => new Promise((resolve) => {
    socket.timeout(timeoutMs).emit(event, data, (err, ack) =>
      resolve(err ? { ok: false, error: "timeout", reason: "the server did not answer; try again" } : ack));
  });
}

/** The page's CSRF token (``<meta name="csrf-token">`` in base.html), for the X-CSRF-Token header. */
export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

/** ICE servers for an RTCPeerConnection (ephemeral TURN credentials from ``GET /api/ice``). */
export async function iceServers() {
  const reply = await fetch("/api/ice", { credentials: "same-origin" });
  return reply.ok ? (await reply.json()).iceServers : [];
}

/** The conference's time zone (``<meta name="conference-timezone">`` in base.html). */
export function conferenceZone() {
  return document.querySelector('meta[name="conference-timezone"]')?.content || undefined;
}

function clock(date, zone, withDate) {
  const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone };
  if (withDate) Object.assign(options, { year: "numeric", month: "short", day: "numeric" });
  return new Intl.DateTimeFormat("en-GB", options).format(date);
}

/**
 * One time zone rule for every page: a time is shown in the conference's zone, with the viewer's
 * own beside it where the two read differently. Returns ``{ text, own }``: ``own`` is "" when the
 * same.
 */
export function zoneTimes(iso, { withDate = false } = {}) {
  const date = new Date(iso);
  const text = clock(date, conferenceZone(), withDate);
  const mine = clock(date, undefined, withDate);
  return { text, own: mine === text ? "" : mine };
}

/** A ``<time>`` element for ``iso`` following the rule above ("14:05 (09:05 your time)"). */
export function timeElement(iso, options = {}) {
  const { text, own } = zoneTimes(iso, options);
  const node = document.createElement("time");
  node.dateTime = iso;
  node.textContent = text;
  if (own) {
    const mine = document.createElement("span");
    mine.className = "your-time";
    mine.textContent = ` (${own} your time)`;
    node.append(mine);
  }
  return node;
}
