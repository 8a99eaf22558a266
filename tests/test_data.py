import gzip
import shutil

import pytest

from grader import data
from grader.errors import DataError


def test_real_data_verified(real_data):
    assert not real_data.subset and real_data.n_train == 60000 and real_data.n_test == 10000


def test_subset_is_self_describing(subset):
    assert subset.subset and subset.n_train == 6000
    (x, y), (xt, yt) = data.load(subset)
    assert x.shape == (6000, 28, 28) and xt.shape == (500, 28, 28)


def test_corrupt_file_gives_clear_error(subset, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(subset.folder, broken)
    (broken / "grader-subset.json").unlink()
    with gzip.open(broken / "t10k-labels-idx1-ubyte.gz", "wb") as handle:
        handle.write(b"garbage")
    with pytest.raises(DataError) as info:
        data.locate(broken)
    assert "checksum" in info.value.message and "dataset-fashion-mnist" in info.value.hint


def test_missing_folder_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError) as info:
        data.locate(tmp_path / "nothing")
    assert "apt-get install dataset-fashion-mnist" in info.value.hint


def test_env_variable_is_honoured(subset, monkeypatch):
    monkeypatch.setenv("GRADER_DATA", str(subset.folder))
    assert data.locate().folder == subset.folder
