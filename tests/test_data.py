import gzip
import shutil

import pytest

from grader import data
from grader.errors import DataError
from grader.messages import Joined, msg, render

from .helpers import said


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
    assert info.value.message.key == "data.bad_checksum" and info.value.message.params["folder"] == str(broken)
    assert info.value.message.params["files"].endswith("t10k-labels-idx1-ubyte.gz")
    for lang in ("es", "en"):
        assert render(info.value.message, lang) == render(msg("data.bad_checksum", **info.value.message.params), lang)
    assert render(info.value.hint, "es") == render(msg("data.how_to_get"), "es")  # apt-get install dataset-fashion-mnist


def test_missing_folder_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError) as info:
        data.locate(tmp_path / "nothing")
    assert render(info.value.hint, "en") == render(msg("data.how_to_get"), "en")
    for lang in ("es", "en"):  # the folder that is missing, then how to get the data
        assert info.value.render(lang) == said("data.data_dir_absent", lang, "data.how_to_get", folder=str(tmp_path / "nothing"))
    english = info.value.render("en")
    assert not any(word in english for word in ("Instale", "carpeta", "archivos"))


def test_nothing_found_lists_every_place_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_DATA", str(tmp_path / "absent"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "debian")
    (tmp_path / "debian").mkdir()
    with pytest.raises(DataError) as info:
        data.locate()
    english = render(info.value.message, "en")
    looked = [msg("data.candidate_absent", label="$GRADER_DATA", folder=str(tmp_path / "absent")),
              msg("data.candidate_absent", label="keras cache", folder=str(tmp_path / "home" / ".keras" / "datasets" / "fashion-mnist")),
              Joined(["dataset-fashion-mnist", msg("data.missing_files", folder=str(tmp_path / "debian"), files=", ".join(data.FILES))],
                     ": ")]
    assert english == render(msg("data.not_found", problems=Joined(looked, "\n  ")), "en")
    assert info.value.message.key == "data.not_found"
    assert render(info.value.message, "es").startswith(render(msg("data.not_found", problems=""), "es") + "$GRADER_DATA: ")


def test_env_variable_is_honoured(subset, monkeypatch):
    monkeypatch.setenv("GRADER_DATA", str(subset.folder))
    assert data.locate().folder == subset.folder
