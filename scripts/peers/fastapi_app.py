# The guide's stack as a peer for the benchmark: FastAPI with the same /predict work and no telemetry.
# Run by scripts/bench.ts with Debian's python3-fastapi, python3-uvicorn, python3-uvloop, python3-httptools.
import uuid
from typing import List

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class PredictRequest(BaseModel):
    features: List[float]


@app.get("/readyz")
async def readyz():
    return {"status": "ready"}


@app.post("/predict")
async def predict(req: PredictRequest):
    return {
        "prediction": sum(req.features),
        "model_name": "simple-linear-demo",
        "latency_ms": 0,
        "trace_id": uuid.uuid4().hex,
    }
