"""WS /api/stream: live audio in, rolling genre estimates out.

Client → a JSON header {"sample_rate": 44100, "format": "f32le"|"s16le", "channels": 1, optional "model",
"window_s", "hop_s", "token"}; then binary PCM chunks; then {"end": true}.
Server → {"ready": true, ...}; {"t", "genre", "confidence", "top_predictions", "window"} every `hop_s` seconds
of audio over the last `window_s` seconds; finally the whole stream with "final": true, and closes.
Errors → {"error": "..."} and close code 1008 (policy: auth) or 1003 (unusable data)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool

from music_reclass_gui.server.deps import websocket_token_ok
from music_reclass_gui.server.state import ServerState

router = APIRouter()


async def _fail(ws: WebSocket, state: ServerState, reason: str, message: str, code: int) -> None:
    state.metrics.error(reason)
    await ws.send_json({"error": message})
    await ws.close(code=code, reason=message[:120])


@router.websocket("/api/stream")
async def stream(ws: WebSocket) -> None:
    from music_reclass_gui.core.errors import MusicReclassError
    from music_reclass_gui.inference.stream import (
        PcmDecoder,
        RollingClassifier,
        StreamFormat,
        StreamFormatError,
    )

    state: ServerState = ws.app.state.server
    cfg = state.config
    await ws.accept()
    try:
        first = await ws.receive()
        text = first.get("text")
        try:
            header: dict[str, Any] = json.loads(text) if text else None
            if not isinstance(header, dict):
                raise ValueError
        except ValueError:
            return await _fail(
                ws, state, "stream", "first message must be a JSON header with sample_rate", 1003
            )
        if not websocket_token_ok(ws, header.get("token")):
            return await _fail(ws, state, "unauthorized", "missing or wrong token", 1008)
        try:
            fmt = StreamFormat.from_header(header)
            window = float(header.get("window_s", cfg.stream_window_s))
            hop = float(header.get("hop_s", cfg.stream_hop_s))
            if not (10.0 <= window <= 30.0 and 0.5 <= hop <= min(3.0, window)):
                raise StreamFormatError("window_s must be 10-30 and hop_s 0.5-3 seconds")
        except (StreamFormatError, TypeError, ValueError) as exc:
            return await _fail(ws, state, "stream", str(exc), 1003)
        try:
            clf = await run_in_threadpool(state.classifiers.get, header.get("model"))
        except MusicReclassError as exc:
            return await _fail(ws, state, "model", str(exc), 1003)
        roll = RollingClassifier(
            clf, fmt.sample_rate, window_s=window, hop_s=hop, max_keep_s=cfg.stream_max_s
        )
        decoder = PcmDecoder(fmt)
        await ws.send_json(
            {"ready": True, "model": clf.model_name, "window_s": window, "hop_s": hop, **header_echo(fmt)}
        )
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("bytes") is not None:
                samples = decoder.decode(msg["bytes"])
                try:
                    updates = await run_in_threadpool(roll.feed, samples)
                except MusicReclassError as exc:
                    return await _fail(ws, state, "model", str(exc), 1011)
                for update in updates:
                    state.metrics.stream_update()
                    await ws.send_json(update.to_json())
            elif msg.get("text") is not None:
                try:
                    control = json.loads(msg["text"])
                except ValueError:
                    control = {}
                if isinstance(control, dict) and control.get("end"):
                    try:
                        final = await run_in_threadpool(roll.finish)
                    except MusicReclassError as exc:
                        return await _fail(ws, state, "decode", str(exc), 1003)
                    state.metrics.track(final.compute_s, False)
                    await ws.send_json(final.to_json())
                    await ws.close(code=1000)
                    return
    except WebSocketDisconnect:
        return


def header_echo(fmt: Any) -> dict[str, Any]:
    return {"sample_rate": fmt.sample_rate, "format": fmt.format, "channels": fmt.channels}
