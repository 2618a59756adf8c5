"""The lesson architectures as functions: sizes are arguments, nothing is hard-coded.

Lessons 3-4: the CNN built from scratch (``scratch_cnn`` and friends).
Lesson 5: pretrained ImageNet bases from ``keras.applications`` (``pretrained_base``).
"""

from __future__ import annotations

from coursekit.config import import_keras

keras = import_keras()

# ---------------------------------------------------------------- lessons 3-4: CNN from scratch


# ---------------------------------------------------------------- lesson 5: pretrained bases
