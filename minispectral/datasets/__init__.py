"""Datasets for the lessons: 8x8 digits, MNIST, Fashion-MNIST, CIFAR-10 and toy 2-D sets.

Every loader returns a :class:`Dataset`: images flattened to float rows in
[0, 1] (``x_train``, ``x_val``, ``x_test``, each of shape ``(N, D)``) and int64 class labels
(``y_train``, ... of shape ``(N,)``). ``make_spirals`` and ``make_blobs`` return one ``(X, y)`` pair.

* ``digits`` (1,797 samples, 64 features) ships inside the package, so it
  always works offline.
* ``mnist`` and ``fashion-mnist`` are the original gzipped IDX files. Each file
  is looked up as ``<dir>/<dataset>/<file>`` in every directory of
  :func:`data_dir_candidates`, checked against the size and SHA-256 in
  :data:`REGISTRY`, and downloaded from the mirrors only when missing.
  ``MINISPECTRAL_DATA`` names an extra data directory; ``MINISPECTRAL_MIRROR``
  replaces the mirror list with one base URL (``{dataset}`` in it is replaced
  by the dataset name).
* ``cifar10`` is the official binary archive, ``cifar-10-binary.tar.gz``, found,
  verified and downloaded the same way (never the pickled python version).
* :func:`make_spirals` and :func:`make_blobs` generate small 2-D problems.

Parsed files are cached in-process as read-only arrays. Every loader returns
fresh, writable copies, so changing a Dataset's arrays never changes the cache
or another Dataset.

One concept per module: ``dataset.py`` (the Dataset container and the splits), ``download.py``
(finding, verifying and downloading files), ``idx.py`` (the MNIST file format), ``loaders.py``
(the named datasets), ``cifar.py`` (the CIFAR-10 binary format) and ``synthetic.py`` (the generated ones).
"""
from __future__ import annotations

from .dataset import Dataset, DatasetError
from .download import REGISTRY, FileSpec, data_dir_candidates, fetch, sha256_file
from .idx import read_idx
from .cifar import read_cifar_archive
from .loaders import DATASETS, load_cifar10, load_dataset, load_digits, load_fashion_mnist, load_mnist
from .synthetic import make_blobs, make_spirals, synthetic_dataset

__all__ = [
    "DATASETS", "REGISTRY", "Dataset", "DatasetError", "FileSpec",
    "data_dir_candidates", "fetch", "load_cifar10", "load_dataset", "load_digits",
    "load_fashion_mnist", "load_mnist", "make_blobs", "make_spirals",
    "read_cifar_archive", "read_idx", "sha256_file", "synthetic_dataset",
]
