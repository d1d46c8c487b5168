"""The WebSocket protocol's messages: parsing a client's JSON and the errors it is answered with.

Client -> server, one JSON object per text frame (every key below is optional unless marked):

    {"input": "text"}                 feed the text token by token (a language model; another kind:
                                      one element, as its endpoint documents); one reply
    {"input_ids": [3, 17]}            the same with token ids
    {"logprobs": true}                with input: the reply carries the full next-token log-probs
    {"generate": N, "temperature": t, "top_k": k, "top_p": p, "seed": s}
                                      sample N tokens, each sent as it is made, fed back into the state
    {"reset": true}                   the state back to the start (step 0)
    {"close": true}                   end the session (the server closes the socket)

Server -> client: ``{"output": ..., "step": n}`` (n: the steps this session's state has taken since
it began or was reset), ``{"token": piece, "step": n}`` while generating and then
``{"generated": text, "step": n, "done": true, "output": ...}``, ``{"reset": true, "step": 0}``,
``{"closed": true, "step": n}``, or ``{"error": message, "code": code}``.
"""

from __future__ import annotations

import json
from typing import Any, Dict

ACTIONS = ("input", "input_ids", "generate", "reset", "close")
OPTIONS = ("logprobs", "temperature", "top_k", "top_p", "seed")

# error codes; the connection stays open for all but "full", "idle" and "internal"
BAD_JSON = "bad_json"
BAD_MESSAGE = "bad_message"
TOO_BIG = "too_big"
UNKNOWN_TOKEN = "unknown_token"
NOTHING_TO_CONTINUE = "nothing_to_continue"
FULL = "full"
IDLE = "idle"
INTERNAL = "internal"

# WebSocket close codes
CLOSE_NORMAL = 1000
CLOSE_TRY_AGAIN_LATER = 1013  # the server is full
CLOSE_INTERNAL = 1011
CLOSE_IDLE = 4408  # an application code (4000-4999), after HTTP's 408 Request Timeout


class ClientError(Exception):
    """A message the server cannot act on; answered with ``{"error": str(self), "code": code}``."""

    def __init__(self, message: str, code: str = BAD_MESSAGE) -> None:
        super().__init__(message)
        self.code = code

    def reply(self) -> Dict[str, str]:
        return {"error": str(self), "code": self.code}


def decode_message(text: Any, max_bytes: int) -> Dict[str, Any]:
    """The JSON object in one text frame, or a :class:`ClientError` naming what is wrong."""
    if not isinstance(text, str):
        raise ClientError("send JSON objects in WebSocket text frames (a binary frame was received)")
    if len(text) > max_bytes or (len(text) * 4 > max_bytes and len(text.encode("utf-8")) > max_bytes):
        size = len(text.encode("utf-8", "replace"))
        raise ClientError(f"message of {size:,} bytes is over the limit of {max_bytes:,} bytes", TOO_BIG)
    try:
        msg = json.loads(text)
    except ValueError as err:
        raise ClientError(f"message is not JSON ({err}): {text[:40]!r}", BAD_JSON) from None
    if not isinstance(msg, dict):
        raise ClientError(f'a message is a JSON object such as {{"input": "a"}}, got {text[:40]!r}')
    unknown = sorted(k for k in msg if k not in ACTIONS + OPTIONS)
    if unknown:
        raise ClientError(f"unknown keys {unknown[:5]}; a message takes {list(ACTIONS)} and {list(OPTIONS)}")
    actions = [k for k in ACTIONS if k in msg]
    if len(actions) != 1:
        raise ClientError(f"a message holds exactly one of {list(ACTIONS)}, got {actions or 'none'}")
    for flag in ("reset", "close", "logprobs"):
        if flag in msg and msg[flag] is not True and not (flag == "logprobs" and msg[flag] is False):
            raise ClientError(f"{flag!r} takes true, got {json.dumps(msg[flag])[:40]}")
    return msg


def encode(reply: Dict[str, Any]) -> str:
    return json.dumps(reply, separators=(",", ":"), ensure_ascii=False)
