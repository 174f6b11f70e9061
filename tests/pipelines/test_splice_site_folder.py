"""`transformers.pipeline("splice-site", model=FOLDER)` loads a SpliceAI folder like the other tasks do."""

import numpy as np
import torch
from transformers import pipeline

import nucleoforge  # noqa: F401  (registers the tasks)
from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel


def test_splice_site_pipeline_from_a_folder_equals_the_model_object(tmp_path):
    torch.manual_seed(0)
    model = SpliceAIModel(SpliceAIConfig()).eval()
    model.save_pretrained(tmp_path)
    from_folder = pipeline("splice-site", model=str(tmp_path))("ACGTAGGTAAGTCCAG")
    from_object = pipeline("splice-site", model=model)("ACGTAGGTAAGTCCAG")
    assert type(from_folder.acceptor) is np.ndarray and from_folder.acceptor.shape == (16,)
    np.testing.assert_allclose(from_folder.acceptor, from_object.acceptor, atol=1e-6)
    np.testing.assert_allclose(from_folder.donor, from_object.donor, atol=1e-6)
