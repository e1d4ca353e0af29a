"""Compression transforms from the survey: pruning, weight sharing with Huffman coding, the
Deep Compression pipeline, HashedNets and knowledge distillation.

Every transform returns ``(model, report)``: a new model (the input is left untouched) and a
:class:`~models.compress.report.CompressionReport` of what was done (sparsity per layer,
clusters, bits per index, bytes before/after, ``compression_ratio``).
"""

from models.compress.deep_compression import compressed_graph, deep_compression, encode_layer
from models.compress.distillation import distill, distillation_loss
from models.compress.filters import prune_filters_l1, prune_taylor, remove_units, taylor_scores
from models.compress.hashing import HashedDense, hashed_graph, hashed_like
from models.compress.obd import hessian_diagonal, obd_saliency, prune_obd
from models.compress.pruning import prune_iterative, prune_magnitude, retrain
from models.compress.report import CompressionReport, LayerCompression
from models.compress.sharing import SharedLayer, fine_tune_centroids, share_weights

__all__ = ["CompressionReport", "HashedDense", "LayerCompression", "SharedLayer",
           "compressed_graph", "deep_compression", "distill", "distillation_loss",
           "encode_layer", "fine_tune_centroids", "hashed_graph", "hashed_like",
           "hessian_diagonal",
           "obd_saliency", "prune_filters_l1", "prune_iterative", "prune_magnitude", "prune_obd",
           "prune_taylor", "remove_units", "retrain", "share_weights", "taylor_scores"]
