"""Real photographs for the demo and the vision tests: the ones scikit-image ships (a
cat, a cup of coffee, an astronaut, a rocket; public domain or CC0), saved under camera-like
names so that only what is in the picture can make a search find them, and a photo with
a shop sign on it for text in images."""

from __future__ import annotations

from pathlib import Path

# file name -> scikit-image sample
DEMO_PHOTOS = {
    "IMG_0412.jpg": "chelsea",  # a tabby cat
    "IMG_0413.jpg": "coffee",  # a cup of coffee on a saucer
    "IMG_0414.jpg": "astronaut",  # Eileen Collins, NASA portrait: one face
    "IMG_0415.jpg": "rocket",  # a launch on the pad
}
SIGN_LINES = ("HARBOUR STREET BAKERY", "Fresh bread daily")


def photo(name: str):
    """A scikit-image sample photo as an RGB PIL image."""
    import numpy as np
    import skimage.data
    from PIL import Image

    pixels = getattr(skimage.data, name)()
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    return Image.fromarray(pixels).convert("RGB")


def sign_photo(lines=SIGN_LINES, background: str = "rocket"):
    """A sign board with dark lettering over a photograph."""
    from PIL import ImageDraw, ImageFont

    img = photo(background)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=max(16, img.width // 20))
    x, y = img.width // 12, img.height // 8
    boxes = [draw.textbbox((0, 0), line, font=font) for line in lines]
    width = max(b[2] for b in boxes) + 40
    height = sum(b[3] + 16 for b in boxes) + 24
    draw.rounded_rectangle((x, y, x + width, y + height), radius=12, fill=(245, 240, 225))
    for line, bbox in zip(lines, boxes, strict=True):
        draw.text((x + 20, y + 16), line, fill=(30, 30, 40), font=font)
        y += bbox[3] + 16
    return img


def write_photos(folder: Path) -> list[Path]:
    """The demo photographs and the sign; none when scikit-image is not installed."""
    try:
        import skimage.data  # noqa: F401
    except ImportError:
        return []
    written = []
    for name, sample in DEMO_PHOTOS.items():
        photo(sample).save(folder / name, "JPEG", quality=92)
        written.append(folder / name)
    sign_photo().save(folder / "IMG_0416.jpg", "JPEG", quality=92)
    return [*written, folder / "IMG_0416.jpg"]
