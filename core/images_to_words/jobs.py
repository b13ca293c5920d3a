"""The long tasks of images -> words, called alike by the CLI and the Images -> Words page."""

from __future__ import annotations

from core.images_to_words import loo
from core.images_to_words.loo import Study
from core.images_to_words.settings import StudySettings
from core.imagesets import ImageSet
from core.store import Callback


def load_images(settings: StudySettings) -> ImageSet:
    """The image set the settings name, subsampled to their images per class."""
    from core.imagesets import load_imageset

    return load_imageset(settings.imageset, settings.path).subsample(settings.per_class)


def run_loo(
    settings: StudySettings,
    images: ImageSet | None = None,
    use_ray: bool = False,
    redo: list[str] | None = None,
    device: str | None = None,
    callback: Callback | None = None,
) -> Study:
    """Run (or resume) the study that ``settings`` define; ``images``: the already loaded and
    subsampled image set (loaded from the settings when None). ``settings.shuffled_control`` adds the
    shuffled-words control to every fold (a second training of each)."""
    settings.check()
    images = images if images is not None else load_images(settings)
    config = loo.study_config(images, settings)
    return loo.run_study(
        images, config, use_ray=use_ray, redo=redo, device=device, callback=callback, shuffled=settings.shuffled_control
    )


resume_loo = loo.resume_study
"""Finish a partial study with exactly its recorded settings (see :func:`core.images_to_words.loo.resume_study`)."""
