"""Hugging Face hub repositories as local folders, through ``huggingface_hub`` (its standard
cache, ``revision=`` pinning, ``HF_HUB_OFFLINE``), with one-line errors.

A cached snapshot is used without any network call; only a repository that is not in the
cache is downloaded, and with ``HF_HUB_OFFLINE=1`` that is an immediate error naming the
repository, the cache folder and the way to use a local copy instead.

>>> looks_like_hub_id("multimolecule/splicebert"), looks_like_hub_id("./splicebert"), looks_like_hub_id("a/b/c")
(True, False, False)
"""

from __future__ import annotations

import os
from pathlib import Path

from nucleoforge.io.checkpoints import CheckpointError, looks_like_hub_id

__all__ = ["HUB_FILES", "looks_like_hub_id", "hub_cache_dir", "snapshot_folder"]

#: what a model folder needs; other files of a repository (READMEs, pytorch_model.bin twins) are not fetched
HUB_FILES = ["config.json", "*.safetensors", "*.safetensors.index.json", "tokenizer_config.json", "vocab.txt",
             "special_tokens_map.json", "conversion.json", "LICENSE*"]
def hub_cache_dir() -> Path:
    """The cache ``huggingface_hub`` reads and writes (``HF_HUB_CACHE``, else ``HF_HOME/hub``)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}


def snapshot_folder(repo_id: str, revision: str | None = None, *, instead: str = "", label: str = "",
                    local_files_only: bool = False) -> Path:
    """The local folder of ``repo_id`` at ``revision`` (default: ``main``), downloading it into the
    hub cache only when it is not there.

    ``instead`` ends the error messages: how to use a local copy (a ``convert`` command);
    ``label`` starts them (default: the repository id).
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError,
    )  # fmt: skip

    at = (label or repo_id) + (f"@{revision}" if revision else "")
    tail = f"; {instead}" if instead else ""
    try:  # the cache first: no network call at all when it holds the snapshot
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=HUB_FILES, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, ValueError):
        pass
    if local_files_only:
        raise CheckpointError(f"{at}: not in the Hugging Face cache ({hub_cache_dir()}) and local_files_only=True{tail}")
    if _offline():
        raise CheckpointError(f"{at}: not in the Hugging Face cache ({hub_cache_dir()}) and HF_HUB_OFFLINE is set, so it "
                              f"cannot be downloaded; fetch it where the hub is reachable (`hf download {repo_id}`){tail}")
    try:
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=HUB_FILES))
    except RevisionNotFoundError:
        raise CheckpointError(f"{at}: the hub repository has no revision {revision!r}") from None
    except GatedRepoError:
        raise CheckpointError(f"{at}: a gated hub repository: accept its terms on the hub and log in (`hf auth login`)") from None
    except RepositoryNotFoundError:
        raise CheckpointError(f"{at}: no such local folder, and no such hub repository{tail}") from None
    except (OSError, LocalEntryNotFoundError) as exc:  # no connection, timeouts
        raise CheckpointError(f"{at}: not in the Hugging Face cache ({hub_cache_dir()}) and the hub cannot be reached "
                              f"({type(exc).__name__}){tail}") from None
