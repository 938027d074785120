import pytest

from glmprobe.errors import UserError
from glmprobe.glm.models_sheet import read_models_sheet, select_model


def write(tmp_path, text, name="models.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_parses_every_column_and_resolves_relative_sources(tmp_path):
    (tmp_path / "mymodel").mkdir()
    p = write(tmp_path, "id,source,family,revision,layers,pooling,max_length,dtype,batch_size,"
                        "trust_remote_code,random_init,rc_average,window\n"
                        "# a comment row\n"
                        "m1,mymodel,hf-mlm,abc123,1;-1,cls;mean;tokens,100,float32,8,true,yes,1,split\n"
                        "oh,onehot,onehot,,,,,,,,,,\n")
    m1, oh = read_models_sheet(p)
    assert m1.source == str((tmp_path / "mymodel").resolve())
    assert (m1.revision, m1.layers, m1.pooling, m1.max_length, m1.dtype, m1.batch_size) == \
        ("abc123", [1, -1], ["cls", "mean", "tokens"], 100, "float32", 8)
    assert (m1.trust_remote_code, m1.random_init, m1.rc_average, m1.window) == (True, True, True, "split")
    # empty cells take the defaults; remote code is never implied
    assert (oh.source, oh.layers, oh.pooling, oh.dtype, oh.trust_remote_code, oh.window) == \
        ("onehot", "last", ["mean"], "float16", False, "refuse")
    assert select_model([m1, oh], "oh", p) is oh


@pytest.mark.parametrize("text, where, fragment", [
    ("id,source,family\nx,onehot,No Family\n", "line 2, column family", "does not match"),
    ("id,source,family,layers\nx,onehot,onehot,1;two\n", "line 2, column layers", "';'-separated integers"),
    ("id,source,family,pooling\nx,onehot,onehot,max\n", "line 2, column pooling", "cls, mean, tokens"),
    ("id,source,family,batch_size\nx,onehot,onehot,big\n", "line 2", "must be an integer"),
    ("id,source,family,random_init\nx,onehot,onehot,maybe\n", "line 2", "true or false"),
    ("id,source,family\nx,onehot,onehot\nx,onehot,onehot\n", "line 3", "duplicate model id"),
    ("id,source,family,colour\nx,onehot,onehot,red\n", "line 1", "unknown column(s) colour"),
    ("id,family\nx,onehot\n", "line 1", "missing column(s) source"),
])
def test_bad_rows_name_the_line(tmp_path, text, where, fragment):
    p = write(tmp_path, text)
    with pytest.raises(UserError) as exc:
        read_models_sheet(p)
    assert str(p) in str(exc.value) and where in str(exc.value) and fragment in str(exc.value)


def test_select_model_requires_an_id_for_several_rows(tmp_path):
    p = write(tmp_path, "id,source,family\na,onehot,onehot\nb,onehot,onehot\n")
    with pytest.raises(UserError, match="choose one with --model"):
        select_model(read_models_sheet(p), None, p)
    with pytest.raises(UserError, match="no model with id 'c'"):
        select_model(read_models_sheet(p), "c", p)


def test_non_utf8_models_sheet_is_a_one_line_error(tmp_path):
    from glmprobe.errors import UserError
    from glmprobe.glm.models_sheet import read_models_sheet

    sheet = tmp_path / "models.csv"
    sheet.write_bytes(b"id,source,family\nm\xe9,onehot,onehot\n")  # Latin-1, not UTF-8
    with pytest.raises(UserError, match="not UTF-8 text"):
        read_models_sheet(sheet)


def test_bundled_hub_models_sheet_parses_and_opts_in_to_remote_code_where_needed():
    from pathlib import Path

    from glmprobe.glm.adapter import adapter_class, get_adapter
    from glmprobe.glm.models_sheet import read_models_sheet

    specs = read_models_sheet(Path(__file__).parents[2] / "assets" / "hub_models.csv")
    assert {s.family for s in specs} >= {"nt", "dnabert2", "hyenadna", "caduceus", "gpn", "gena", "dnabert"}
    for spec in specs:  # get_adapter refuses remote-code families without the opt-in
        get_adapter(spec)
        assert spec.trust_remote_code or not adapter_class(spec.family).requires_remote_code
