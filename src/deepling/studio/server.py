"""The studio's web server (Starlette on uvicorn): one page, its local assets, a JSON API and the
playground's WebSocket.

Every request is checked before any work starts (body size, JSON shape, names, ranges); a refused
request gets a 4xx and a one-line message, and an unexpected failure a 500 with no traceback (the
traceback goes to the server's log). Work is bounded: a playground run stops at ``MAX_EPOCHS``, at
most ``MAX_SOCKETS`` run at once, one lesson runs at a time under a time limit, the digit model
trains once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any, AsyncIterator

try:
    from starlette.applications import Starlette
except ImportError:  # pragma: no cover - depends on the install
    raise ImportError("deepling studio needs the studio extra: pip install 'deepling[studio]'") from None
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from deepling.studio import graphs, playground
from deepling.studio._engine import BadRequest, TooLarge
from deepling.studio.digits import DigitModel
from deepling.studio.lessons import LessonRunner, catalog

STATIC = Path(__file__).parent / "static"
MAX_BODY = 64 * 1024
MAX_MESSAGE = 16 * 1024
MAX_SOCKETS = 8
log = logging.getLogger("deepling.studio")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "deepling" / "studio"


async def _json_body(request: Request) -> dict[str, Any]:
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise TooLarge(f"request body too large (at most {MAX_BODY} bytes)")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise TooLarge(f"request body too large (at most {MAX_BODY} bytes)")
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("request body must be JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    return data


def create_app(cache_dir: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
               digits_source: str = "auto", digits_epochs: int = 2, digits_images: int = 20000,
               lesson_time_limit: float = 240.0, train_digits: bool = True,
               allowed_hosts: list[str] | None = None) -> Starlette:
    """The studio as an ASGI app. The digit model trains in the background from startup (or, with
    ``train_digits=False``, when the pad first asks for it), cached in ``cache_dir`` (default
    ``~/.cache/deepling/studio``), on MNIST from ``data_dir`` when found. Requests must name the
    machine itself in their Host header (``allowed_hosts``, default the loopback names), and a
    WebSocket must come from the studio's own page: another web site open in the browser cannot
    drive the studio (DNS rebinding, cross-site WebSocket hijacking)."""
    hosts = allowed_hosts or ["127.0.0.1", "localhost", "[::1]", "::1", "testserver"]
    digits = DigitModel(cache_dir or default_cache_dir(), data_dir, digits_source, digits_epochs, digits_images)
    runner = LessonRunner(lesson_time_limit)
    sockets: set[WebSocket] = set()

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def playground_meta(request: Request) -> Response:
        return JSONResponse({
            "defaults": playground.DEFAULTS, "datasets": playground.DATASETS, "features": list(playground.FEATURES),
            "activations": list(playground.ACTIVATIONS), "regularization": list(playground.REGULARIZATION),
            "max_layers": playground.MAX_LAYERS, "max_neurons": playground.MAX_NEURONS,
            "max_epochs": playground.MAX_EPOCHS, "extent": playground.EXTENT,
        })

    async def digits_status(request: Request) -> Response:
        digits.start()  # trains on first use when the app was made with train_digits=False
        return JSONResponse(digits.status())

    async def digits_predict(request: Request) -> Response:
        digits.start()
        body = await _json_body(request)
        return JSONResponse(await run_in_threadpool(digits.predict, body.get("pixels")))

    async def lessons_list(request: Request) -> Response:
        return JSONResponse({"lessons": await run_in_threadpool(catalog)})

    async def lessons_run(request: Request) -> Response:
        body = await _json_body(request)
        name = body.get("name")
        if not isinstance(name, str):
            raise BadRequest("name must be a lesson name")
        return JSONResponse(await runner.run(name, body.get("options", {})))

    async def graph_presets(request: Request) -> Response:
        return JSONResponse({"presets": graphs.PRESETS, "models": list(graphs.MODELS),
                             "functions": list(graphs.FUNCTIONS)})

    async def graph_build(request: Request) -> Response:
        body = await _json_body(request)
        return JSONResponse(await run_in_threadpool(graphs.build, body))

    async def playground_socket(ws: WebSocket) -> None:
        origin = ws.headers.get("origin")
        if origin is not None and origin.split("://", 1)[-1] != ws.headers.get("host"):
            await ws.close(code=1008)  # a page from another site: refused before any work
            return
        await ws.accept()
        if len(sockets) >= MAX_SOCKETS:
            await ws.send_json({"type": "error", "message": f"at most {MAX_SOCKETS} playgrounds run at once"})
            await ws.close(code=1013)
            return
        sockets.add(ws)
        session: dict[str, Any] = {"run": None, "config": None, "player": None, "playing": False}

        async def send_frame(with_points: bool = False) -> None:
            frame = await run_in_threadpool(session["run"].frame, with_points)
            await ws.send_json({"type": "frame", **frame})

        async def player() -> None:
            run = session["run"]
            while session["playing"] and not run.done:
                await run_in_threadpool(run.play, 0.05)
                await send_frame()
                await asyncio.sleep(0.005)
            if run.done:
                await ws.send_json({"type": "stopped", "epoch": run.epoch})

        async def pause() -> None:
            # Let the player finish its chunk (never cancel mid-epoch): one run is trained by one
            # thread at a time, so its epochs, and the URL's replay, stay deterministic.
            session["playing"] = False
            task = session["player"]
            if task is not None:
                with contextlib.suppress(Exception):
                    await task
                session["player"] = None

        try:
            while True:
                text = await ws.receive_text()
                try:
                    if len(text) > MAX_MESSAGE:
                        raise BadRequest(f"message too large (at most {MAX_MESSAGE} bytes)")
                    try:
                        msg = json.loads(text)
                    except ValueError:
                        raise BadRequest("message must be JSON") from None
                    kind = msg.get("type") if isinstance(msg, dict) else None
                    if kind in ("config", "reset"):
                        await pause()
                        config = msg.get("config", session["config"]) if kind == "reset" else msg.get("config")
                        run = await run_in_threadpool(playground.Playground, config if config is not None else {})
                        session.update(run=run, config=run.config)
                        await send_frame(with_points=True)
                    elif session["run"] is None:
                        raise BadRequest("send a config first")
                    elif kind == "play":
                        if session["player"] is None or session["player"].done():
                            session["playing"] = True
                            session["player"] = asyncio.create_task(player())
                    elif kind == "pause":
                        await pause()
                        await send_frame()
                    elif kind == "step":
                        await pause()
                        await run_in_threadpool(session["run"].step, 1)
                        await send_frame()
                    else:
                        raise BadRequest(f"unknown message type {kind!r} (config, play, pause, step, reset)")
                except BadRequest as e:
                    await ws.send_json({"type": "error", "message": str(e)})
        except WebSocketDisconnect:
            pass
        finally:
            await pause()
            sockets.discard(ws)

    async def bad_request(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status", 400)
        return JSONResponse({"error": str(exc)}, status_code=status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("studio: %s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": f"internal error ({type(exc).__name__}); see the server log"}, status_code=500)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if train_digits:
            digits.start()
        yield
        runner.stop()
        digits.stop()

    routes = [
        Route("/", index),
        Route("/api/health", health),
        Route("/api/playground", playground_meta),
        Route("/api/digits/status", digits_status),
        Route("/api/digits/predict", digits_predict, methods=["POST"]),
        Route("/api/lessons", lessons_list),
        Route("/api/lessons/run", lessons_run, methods=["POST"]),
        Route("/api/graph", graph_presets),
        Route("/api/graph", graph_build, methods=["POST"]),
        WebSocketRoute("/ws/playground", playground_socket),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
                    exception_handlers={BadRequest: bad_request, HTTPException: http_error, Exception: server_error})
    app.state.digits, app.state.runner = digits, runner
    return app


def serve(host: str = "127.0.0.1", port: int = 8765, **options: Any) -> None:
    """Run the studio until Ctrl-C (uvicorn stops cleanly on SIGINT/SIGTERM)."""
    import uvicorn

    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("studio: serving on %s: other machines can reach it", host)
    print(f"deepling studio on http://{'[' + host + ']' if ':' in host else host}:{port}/  (Ctrl-C stops it)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        options.setdefault("allowed_hosts", ["*"])  # served to the network on purpose
    # Ctrl-C: stop accepting, give requests in flight 3 s, then cancel them (a running lesson's child
    # process is killed) and stop the digit trainer.
    uvicorn.run(create_app(**options), host=host, port=port, log_level="warning", ws_max_size=MAX_MESSAGE * 4,
                timeout_graceful_shutdown=3)
