"""Typed dependencies of the registry routes."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from services.registry.crypto import PersonalDataCipher

M = TypeVar("M", bound=BaseModel)


async def _cipher(request: Request) -> PersonalDataCipher:
    return request.app.state.cipher


CipherDep = Annotated[PersonalDataCipher, Depends(_cipher)]


def query_model(model: type[M]) -> tuple[Any, dict]:
    """A route's whole query string validated by `model` in one call: (the dependency to annotate a parameter
    with, the route's `openapi_extra`).

    For the hot list (`GET /v1/workers`, issue 16). FastAPI (0.165) works out again on every request, per
    query parameter, how to read and validate it (is it a sequence, a model, which alias...): the list's eight
    parameters, spread over three dependencies, cost 140 us of a 950 us request, more than its query's rows.
    Declared as FastAPI's own query-parameter model (`Annotated[model, Query()]`) they cost 110 us. Here pydantic
    validates the query string as one dict (last value of a repeated key, unknown keys ignored, as FastAPI
    does), and a bad value is FastAPI's own `RequestValidationError` at `("query", field)`, so the answer is the
    same 422 problem naming the field. The OpenAPI parameters are the ones FastAPI documents for `model` as a
    query-parameter model (generated once here, from a probe app), and so is its 422 response, so clients and
    the contract tests see the same names, types, limits and responses as before. One difference: with several
    bad values, the errors come in the model's order (FastAPI listed a dependency's parameters first)."""

    async def validated(request: Request) -> M:
        try:
            return model.model_validate(dict(request.query_params))
        except ValidationError as error:
            raise RequestValidationError(
                [{**e, "loc": ("query", *e["loc"])} for e in error.errors(include_url=False)]) from None

    async def documented(query) -> None:
        """Only for its documentation."""

    documented.__annotations__["query"] = Annotated[model, Query()]  # an object: this module's are strings
    probe = FastAPI()
    probe.get("/")(documented)
    documentation = probe.openapi()["paths"]["/"]["get"]
    return Annotated[model, Depends(validated)], {"parameters": documentation["parameters"],
                                                  "responses": {"422": documentation["responses"]["422"]}}
