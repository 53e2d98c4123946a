"""The baseline for the HTTP rows: a bare FastAPI app answering a fixed JSON body, served like `trace serve`."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
def hello() -> dict[str, str]:
    return {"hello": "world"}
