"""Pictures of text with the text they show, for OCR tests and benchmarks: several fonts
and sizes, one to three lines, on paper, coloured card or straight over a photograph,
turned up to 10 degrees, sometimes blurred, sometimes noisy, as phone photos of signs,
labels and pages are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

_WORD_LIST = (
    "harbour street bakery fresh bread daily open closed station platform north south "
    "east west market square garden cafe coffee tea museum library school road avenue "
    "lane bridge river park hotel pharmacy post office bank exit entrance welcome to "
    "our family holiday summer winter spring autumn birthday party wedding beach "
    "mountain lake village city centre parking only no entry please keep door closed "
    "sale today menu soup salad pizza pasta fish chips ice cream fruit vegetables "
    "flowers books music concert theatre tickets gallery hospital police fire "
    "emergency monday tuesday wednesday thursday friday saturday sunday january march "
    "june october december happy new year grandma grandpa kitchen recipe notes"
)
WORDS = tuple(_WORD_LIST.split())
TOKENS = ("7am", "6pm", "2024", "12", "No. 5", "£4.50", "$3", "10%", "A14", "24/7")


def font_files() -> list[Path]:
    """TrueType fonts found here: the system's DejaVu family and reportlab's Vera."""
    found = sorted(Path("/usr/share/fonts").rglob("*.ttf"))
    try:
        import reportlab

        found += sorted((Path(reportlab.__file__).parent / "fonts").glob("Vera*.ttf"))
    except ImportError:
        pass
    return [f for f in found if "Math" not in f.name]


@dataclass(frozen=True)
class TextImage:
    image: object  # PIL.Image.Image, RGB
    text: str  # the lines, joined by newlines
    font: str
    size: int
    over_photo: bool


def _line(rng: np.random.Generator) -> str:
    words = [str(w) for w in rng.choice(WORDS, int(rng.integers(2, 5)))]
    if rng.random() < 0.3:
        words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(TOKENS)))
    text = " ".join(words)
    return text.upper() if rng.random() < 0.3 else text.capitalize()


def text_image(seed: int, fonts: list[Path], backgrounds: list) -> TextImage:
    """One picture of text, fully determined by `seed`."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    rng = np.random.default_rng(seed)
    lines = [_line(rng) for _ in range(int(rng.integers(1, 4)))]
    size = int(rng.choice([16, 20, 24, 32, 40, 56]))
    font_path = fonts[int(rng.integers(len(fonts)))] if fonts else None
    font = ImageFont.truetype(str(font_path), size) if font_path else ImageFont.load_default(size)
    boxes = [font.getbbox(line) for line in lines]
    width = max(b[2] for b in boxes) + 2 * size
    height = int(len(lines) * size * 1.5) + 2 * size
    over_photo = bool(backgrounds) and rng.random() < 0.35
    if over_photo:
        photo = backgrounds[int(rng.integers(len(backgrounds)))]
        img = photo.resize((max(width, 64), max(height, 64))).convert("RGB")
        shade = np.asarray(img, np.float32).mean()
        ink = (255, 255, 255) if shade < 128 else (0, 0, 0)
    else:
        paper = tuple(int(c) for c in rng.integers(200, 256, 3))
        img = Image.new("RGB", (width, height), paper)
        ink = tuple(int(c) for c in rng.integers(0, 70, 3))
    draw = ImageDraw.Draw(img)
    y = size
    for line in lines:
        draw.text(
            (size, y),
            line,
            fill=ink,
            font=font,
            stroke_width=1 if over_photo else 0,
            stroke_fill=tuple(255 - c for c in ink),
        )
        y += int(size * 1.5)
    angle = float(rng.uniform(-10, 10))
    img = img.rotate(angle, expand=True, fillcolor=img.getpixel((0, 0)), resample=Image.BICUBIC)
    if rng.random() < 0.4:
        img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 1.5))))
    if rng.random() < 0.4:
        noisy = np.asarray(img, np.float32) + rng.normal(
            0, rng.uniform(4, 14), (img.height, img.width, 1)
        )
        img = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    name = font_path.stem if font_path else "default"
    return TextImage(img, "\n".join(lines), name, size, over_photo)
