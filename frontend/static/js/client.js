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
