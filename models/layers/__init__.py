"""Layers with numpy forward/backward passes (float32; float64 via ``astype`` for checks).

Every layer implements ``forward(x, training=False, params=None)``, ``backward(grad)``,
``params()``, ``grads()`` (see :mod:`models.layers.base`).
"""

from models.layers.activations import HardTanh, ReLU, Sign
from models.layers.base import Layer
from models.layers.batchnorm import BatchNorm, fold_batchnorm
from models.layers.conv import Conv2D
from models.layers.dense import Dense
from models.layers.dropout import Dropout
from models.layers.flatten import Flatten
from models.layers.hashed import HashedDense
from models.layers.pool import AvgPool2D, MaxPool2D

#: kind -> class, for loading saved architectures.
LAYER_KINDS: dict[str, type[Layer]] = {
    cls.kind: cls for cls in (Dense, Conv2D, MaxPool2D, AvgPool2D, ReLU, HardTanh, Sign,
                              BatchNorm, Dropout, Flatten, HashedDense)
}

__all__ = ["AvgPool2D", "BatchNorm", "Conv2D", "Dense", "Dropout", "Flatten", "HardTanh",
           "HashedDense", "LAYER_KINDS", "Layer", "MaxPool2D", "ReLU", "Sign", "fold_batchnorm"]
