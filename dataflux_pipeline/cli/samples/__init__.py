"""Synthetic media with known ground truth, for the demo, the tests and the benchmarks."""

from dataflux_pipeline.cli.samples.demo_set import (
    ASTRONOMY_PAGES,
    DEMO_CUES,
    DEMO_VIDEO_CUTS,
    NOTES_TXT,
    RECIPE_MD,
    write_demo_set,
)
from dataflux_pipeline.cli.samples.edits import (
    NEAR_DUPLICATE_EDITS,
    Scene,
    Transition,
    TrueBoundary,
    edit_frames,
    near_duplicate,
    scene_image,
    write_edit,
)
from dataflux_pipeline.cli.samples.media import (
    FPS,
    Shot,
    click_track,
    tone,
    write_image,
    write_pdf,
    write_srt,
    write_video,
    write_wav,
)

__all__ = [
    "ASTRONOMY_PAGES",
    "DEMO_CUES",
    "DEMO_VIDEO_CUTS",
    "FPS",
    "NEAR_DUPLICATE_EDITS",
    "NOTES_TXT",
    "RECIPE_MD",
    "Scene",
    "Shot",
    "Transition",
    "TrueBoundary",
    "click_track",
    "edit_frames",
    "near_duplicate",
    "scene_image",
    "tone",
    "write_demo_set",
    "write_edit",
    "write_image",
    "write_pdf",
    "write_srt",
    "write_video",
    "write_wav",
]
