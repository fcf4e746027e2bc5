"""``deepling.data`` (also ``deepling.utils.data``): datasets, samplers, the DataLoader and transforms."""

from deepling.data import datasets, transforms
from deepling.data.dataloader import DataLoader, default_collate
from deepling.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from deepling.data.datasets.text import CharCorpus
from deepling.data.distributed import DistributedSampler
from deepling.data.location import dataset_dir
from deepling.data.registry import DATASETS, load_dataset
from deepling.data.sampler import (
                                  BatchSampler,
                                  RandomSampler,
                                  Sampler,
                                  SequentialSampler,
                                  SubsetRandomSampler,
                                  WeightedRandomSampler,
)

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "DataLoader", "default_collate",
           "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "datasets",
           "transforms"]
__all__ += ["CharCorpus", "DATASETS", "load_dataset", "dataset_dir", "DistributedSampler"]
