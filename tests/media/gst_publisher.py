"""A GStreamer webrtcbin publisher, run by Debian's python3 (PyGObject) in a subprocess.

Protocol on stdio, one JSON object per line:
  -> {"offer": sdp}            once ICE gathering is complete (WHIP has no trickle)
  <- {"answer": sdp}           the WHIP answer
  -> {"state": "connected"}    when webrtcbin's peer connection state changes
  <- EOF                       stop

usage: /usr/bin/python3 gst_publisher.py VP8|H264 [--address 127.0.0.1] [--width 1280 --height 720]
       [--kbps 1500] [--keyint 128]

libnice never gathers on loopback interfaces (it skips IFF_LOOPBACK); the address
given is added to the ICE agent explicitly, so the publisher offers it alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("Nice", "0.1")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC, Nice

VIDEO = {
    "VP8": (
        "vp8enc deadline=1 cpu-used=8 keyframe-max-dist={keyint} target-bitrate={bps} "
        "! rtpvp8pay pt=96 ! application/x-rtp,media=video,encoding-name=VP8,payload=96"
    ),
    "H264": (
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max={keyint} bitrate={kbps} "
        "! video/x-h264,profile=constrained-baseline "
        "! rtph264pay pt=102 config-interval=-1 aggregate-mode=zero-latency "
        "! application/x-rtp,media=video,encoding-name=H264,payload=102"
    ),
}


def say(**message: object) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("codec", choices=sorted(VIDEO))
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--kbps", type=int, default=600)
    parser.add_argument("--keyint", type=int, default=60, help="frames between keyframes")
    parser.add_argument("--pattern", default="ball", help="videotestsrc pattern (snow: busiest)")
    parser.add_argument("--nack", action="store_true", help="answer NACKs (webrtcbin do-nack)")
    parser.add_argument("--fec", action="store_true", help="Opus in-band FEC (opusenc inband-fec)")
    args = parser.parse_args()
    video = VIDEO[args.codec].format(keyint=args.keyint, bps=args.kbps * 1000, kbps=args.kbps)
    Gst.init(None)
    pipeline = Gst.parse_launch(
        "webrtcbin name=send bundle-policy=max-bundle "
        f"videotestsrc is-live=true pattern={args.pattern} "
        f"! video/x-raw,width={args.width},height={args.height},framerate=30/1 "
        f"! videoconvert ! queue ! {video} ! send. "
        "audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! queue "
        f"! opusenc {'inband-fec=true packet-loss-percentage=5' if args.fec else ''} "
        "! rtpopuspay pt=111 "
        "! application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! send."
    )
    webrtc = pipeline.get_by_name("send")
    # webrtcbin never sinks its ICE object's floating reference, and PyGObject takes it
    # over when wrapping: keep the wrapper for the whole run or the object is freed.
    ice = webrtc.get_property("ice-agent")
    agent = ice.get_property("agent")
    address = Nice.Address.new()
    address.set_from_string(args.address)
    agent.add_local_address(address)
    loop = GLib.MainLoop()
    kept: list[object] = []

    def offered(promise: Gst.Promise) -> None:
        promise.wait()
        reply = promise.get_reply()  # keep the reply alive while its offer is used
        offer = reply.get_value("offer")
        if offer is None:
            say(error=f"no offer: {reply.to_string()}")
            return
        webrtc.emit("set-local-description", offer, Gst.Promise.new())
        kept.append((reply, offer))

    def negotiate(element: Gst.Element) -> None:
        element.emit("create-offer", None, Gst.Promise.new_with_change_func(offered))

    def gathering(element: Gst.Element, _spec: object) -> None:
        if (
            element.get_property("ice-gathering-state")
            == GstWebRTC.WebRTCICEGatheringState.COMPLETE
        ):
            say(offer=element.get_property("local-description").sdp.as_text())

    def connection(element: Gst.Element, _spec: object) -> None:
        state = element.get_property("connection-state")
        say(state=state.value_nick)

    def answered(text: str) -> bool:
        _, sdp = GstSdp.SDPMessage.new_from_text(text)
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
        webrtc.emit("set-remote-description", answer, Gst.Promise.new())
        return False

    def read_stdin() -> None:
        for line in sys.stdin:
            message = json.loads(line)
            if "answer" in message:
                GLib.idle_add(answered, message["answer"])
        GLib.idle_add(loop.quit)

    def on_message(_bus: Gst.Bus, message: Gst.Message) -> None:
        if message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            say(error=f"{error.message} ({debug})")
            loop.quit()

    webrtc.connect("on-negotiation-needed", negotiate)
    webrtc.connect("notify::ice-gathering-state", gathering)
    webrtc.connect("notify::connection-state", connection)
    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    for index in range(2):
        transceiver = webrtc.emit("get-transceiver", index)
        if transceiver is not None:
            transceiver.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
            if args.nack:
                transceiver.set_property("do-nack", True)
    threading.Thread(target=read_stdin, daemon=True).start()
    pipeline.set_state(Gst.State.PLAYING)
    try:
        loop.run()
    finally:
        pipeline.set_state(Gst.State.NULL)
        sys.stdout.flush()
        # Skip finalizers: the ICE object's reference is shared with webrtcbin (see above).
        os._exit(0)


if __name__ == "__main__":
    main()
