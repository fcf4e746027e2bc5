"""``deepling.nn.modules.upsampling``: PyTorch's import path for Upsample, UpsamplingNearest2d, UpsamplingBilinear2d."""

from deepling.nn.upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]
