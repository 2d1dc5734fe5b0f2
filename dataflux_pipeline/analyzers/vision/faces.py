"""Faces in pictures: a `face` segment per face with a cropped thumbnail and its box in
`features_region`; with recognition on (`DATAFLUX_FACE_RECOGNITION`, off by default
because the FaceNet weights carry research-use terms) also a 512-d embedding per face in
the `faces` space, which `people.py` clusters into people."""

from __future__ import annotations

import numpy as np

from dataflux_pipeline.analyzers.base import AnalysisResult, MediaItem, Vector
from dataflux_pipeline.analyzers.vision.base import Enricher, Visual, box

FACES_SPACE = "faces"


class FaceEnricher(Enricher):
    name = "faces"
    kinds = frozenset({"image", "keyframe"})

    def model(self):
        from dataflux_pipeline.models.faces import load_face_detector

        return load_face_detector(self.settings.device, self.settings.face_min_px)

    def embedder(self):
        """FaceNet when recognition is on and installed, else None."""
        if not self.settings.face_recognition:
            return None
        from dataflux_pipeline.models.faces import load_face_embedder

        return load_face_embedder(self.settings.device)

    def run(self, item: MediaItem, visuals: list[Visual], out: AnalysisResult) -> None:
        from PIL import Image

        from dataflux_pipeline.models.faces import face_crop

        detector, embedder = self.model(), self.embedder()
        for visual in visuals:
            rgb = np.asarray(visual.image)
            faces = detector.detect(rgb, self.settings.face_min_confidence)
            out.add_features("features_vision", [self.row(visual.segment, faces=len(faces))])
            crops = [face_crop(rgb, face.box) for face in faces]
            vectors = embedder.embed(crops) if embedder and crops else None
            for n, (face, crop) in enumerate(zip(faces, crops, strict=True)):
                target, rel = item.thumbnail(f"face_{self.count:04d}.jpg")
                Image.fromarray(crop).save(target, "JPEG", quality=90)
                seg = self.child(item, "face", visual.segment, thumbnail=rel)
                out.segments.append(seg)
                region = box(face.box, *visual.image.size)
                out.add_features(
                    "features_region",
                    [
                        self.row(
                            seg,
                            parent_id=visual.segment.segment_id,
                            kind="face",
                            region=0,
                            confidence=face.confidence,
                            **region,
                        )
                    ],
                )
                if vectors is not None:
                    out.vectors.append(
                        Vector(
                            segment_id=seg.segment_id,
                            asset_id=seg.asset_id,
                            space=FACES_SPACE,
                            model=embedder.name,
                            model_version=embedder.version,
                            vector=vectors[n].tolist(),
                        )
                    )
