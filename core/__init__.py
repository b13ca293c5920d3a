"""Crossmodal Lab's library: one package per method (``text_to_image``, ``images_to_words``, ``nontext``,
``hybrid``) and the modules they share.

Importing it turns on PyTorch's own switch for transparent huge pages (``THP_MEM_ALLOC_ENABLE``, off by
default), unless the environment already sets it: torch then asks the kernel for 2 MB pages for every CPU tensor of
2 MB or more, so a fresh large tensor is mapped 2 MB at a time instead of 4 KB. On two cores the word
attributions take about 15 % less time for about 8 % more peak memory (docs/benchmarks.md M). torch reads the
switch once, at its first tensor, so it only counts where this package is imported before torch (the app's pages,
the CLI and the benchmarks do so); ``THP_MEM_ALLOC_ENABLE=0`` keeps torch's default.
"""

import os

os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
