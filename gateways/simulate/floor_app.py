"""The HTTP floor: a no-op Starlette app with the API's routes and reply shapes, served by uvicorn with the
API's settings, so the same load generator can measure what HTTP alone costs.

Nothing is stored: a game's question count travels in its id and every answer is "correct" at once.
``python -m gateways.simulate.floor_app --port P``.
"""

from __future__ import annotations

import argparse
import uuid

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def _accepted(request_id: str, game_id: str) -> JSONResponse:
    return JSONResponse({"request_id": request_id, "game_id": game_id, "status": "pending",
                         "links": {"request": f"/v1/requests/{request_id}", "game": f"/v1/games/{game_id}"}},
                        status_code=202, headers={"Location": f"/v1/requests/{request_id}"})


async def token(request: Request) -> Response:
    """A token that means nothing."""
    await request.body()
    return JSONResponse({"access_token": "floor", "token_type": "Bearer", "expires_in": 3600})


def _waited(request: Request) -> bool:
    return float(request.query_params.get("wait", "0") or 0) > 0


async def create_game(request: Request) -> Response:
    """202 at once (200 with the outcome when asked to wait); the question count is carried in the ids."""
    body = await request.json()
    count = int(body.get("question_count", 5))
    game_id = f"{count}-{uuid.uuid4().hex}"
    request_id = f"g.{count}.{uuid.uuid4().hex}"
    return _done(request_id, game_id) if _waited(request) else _accepted(request_id, game_id)


async def submit_answer(request: Request) -> Response:
    """202 at once (200 with the verdict when asked to wait); the question and game size are in the id."""
    body = await request.json()
    game_id = request.path_params["game_id"]
    count = int(game_id.split("-", 1)[0])
    request_id = f"a.{count}.{int(body['question_no'])}.{uuid.uuid4().hex}"
    return _done(request_id, game_id) if _waited(request) else _accepted(request_id, game_id)


async def get_request(request: Request) -> Response:
    """Done at once: the game's questions, or a verdict."""
    return _done(request.path_params["request_id"], None)


def _done(request_id: str, game_id: str | None) -> JSONResponse:
    kind, count, *rest = request_id.split(".")
    total = int(count)
    if kind == "g":
        questions = [{"no": n, "text": f"floor question {n}", "options": ["a", "b", "c", "d"], "category": "floor",
                      "difficulty": "easy", "correct_option": None} for n in range(total)]
        result = {"type": "game.created", "question_count": total, "time_limit_s": 30.0, "questions": questions}
    else:
        no = int(rest[0])
        result = {"type": "answer.evaluated", "question_no": no, "verdict": "correct", "points": 100,
                  "score": 100 * (no + 1), "next_question_no": no + 1 if no + 1 < total else None}
    return JSONResponse({"request_id": request_id, "kind": kind, "status": "done", "game_id": game_id,
                         "result": result, "error": None})


def create_app() -> Starlette:
    """The floor's routes."""
    return Starlette(routes=[
        Route("/v1/auth/token", token, methods=["POST"]),
        Route("/v1/games", create_game, methods=["POST"]),
        Route("/v1/games/{game_id}/answers", submit_answer, methods=["POST"]),
        Route("/v1/requests/{request_id}", get_request, methods=["GET"]),
    ])


def main(argv: list[str] | None = None) -> int:
    """Serve the floor app with the API's uvicorn settings (gateways/api/main.py)."""
    parser = argparse.ArgumentParser(prog="python -m gateways.simulate.floor_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_config=None, access_log=False,
                timeout_graceful_shutdown=20, lifespan="on")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
