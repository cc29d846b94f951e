"""Request and response bodies of the JSON API (pydantic; FastAPI validates requests → 422 on bad input)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClassifyRequest(_Strict):
    audio_path: str = Field(description="a file inside a served library (absolute, or relative to the first)")
    model: str | None = None
    top_k: int | None = Field(default=None, ge=1, le=50)


class PredictionOut(BaseModel):
    genre: str
    confidence: float


class LabelOut(BaseModel):
    genre: str
    probability: float


class ClassifyResponse(BaseModel):
    audio_path: str
    model: str
    genre: str
    confidence: float
    top_predictions: list[PredictionOut]
    processing_time: float
    cached: bool = False
    labels: list[LabelOut] | None = None


class BatchRequest(_Strict):
    audio_dir: str
    model: str | None = None
    write_tags: bool = False
    # the decision layer's settings for write_tags (as `batch --write-tags` flags)
    keep_existing: bool = False
    multi_genre: bool = False
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    per_track: bool = False


class JobAccepted(BaseModel):
    job: str
    state: str


class OpenFolderRequest(_Strict):
    folder: str
    model: str | None = None


class DecideRequest(_Strict):
    path: str
    action: Literal["accept", "edit", "reject"]
    genres: list[str] | None = None


class AcceptAboveRequest(_Strict):
    threshold: float = Field(ge=0.0, le=1.0)


class UndoRequest(_Strict):
    op_id: str | None = None
