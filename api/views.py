"""Every API answer shown to its reader: the route class all routers use.

`PersonalDataRoute` wraps each endpoint so that what it returns passes through
device_registry.personal.view_for with the role of the actor the endpoint was given
(its `CurrentActor` or `StreamActor` parameter) before FastAPI serialises it. So a
personal field declared on a model is masked in every answer that carries it, without
each handler remembering to. An endpoint with no actor — webhooks, health — is shown as
to nobody in particular: every personal field masked or hidden. Answers that are not
models (the live stream, CSV files) call view_for themselves.
"""

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute

from device_registry.access import Actor
from device_registry.personal import view_any


def _role_of(arguments: dict[str, Any]) -> Any:
    actor = next((value for value in arguments.values() if isinstance(value, Actor)), None)
    return None if actor is None else actor.role


def shown_to_reader(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def answer_async(*args: Any, **kwargs: Any) -> Any:
            return view_any(await endpoint(*args, **kwargs), _role_of(kwargs))

        return answer_async

    @functools.wraps(endpoint)
    def answer(*args: Any, **kwargs: Any) -> Any:
        return view_any(endpoint(*args, **kwargs), _role_of(kwargs))

    return answer


class PersonalDataRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, shown_to_reader(endpoint), **kwargs)
