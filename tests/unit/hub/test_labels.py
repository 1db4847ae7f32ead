"""Labels CSV: clear errors naming the file, lines and columns."""

from __future__ import annotations

import pytest

from seedlens.hub.errors import LabelsError
from seedlens.hub.labels import read_labels


def write(tmp_path, text: str | bytes):
    path = tmp_path / "labels.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_known_columns_traits_and_tags(tmp_path):
    labels = read_labels(write(tmp_path, "\ufeffsample_id,Species,germination,Oil Content,notes,tags\n"
                                         "a,wheat,Normal,41.5,ok,x;y\nb,,dead,,fine,\n\n"))
    a, b = labels.rows["a"], labels.rows["b"]
    assert a.fields == {"species": "wheat", "germination": "normal"} and a.tags == ["x", "y"]
    assert a.traits == {"oil_content": "41.5", "notes": "ok"} and b.fields == {"germination": "dead"}
    assert labels.trait_kinds == {"oil_content": "num", "notes": "text"}
    assert labels.trait_value("oil_content", "41.5") == 41.5


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("id,species\na,wheat\n", ["no 'sample_id' column", "'id', 'species'"]),
        ("sample_id,lot\na,1\nb,2\na,3\n", ["duplicate sample_id 'a' on lines 2 and 4"]),
        ("sample_id,lot\na,1,extra\n", ["line 2 has 3 fields; the header has 2"]),
        ("sample_id,germination\na,sprouted\n", ["line 2", "germination must be one of normal, abnormal, dead"]),
        ("sample_id,lot\n../x,1\n", ["line 2", "must not contain '/'"]),
        ("sample_id,split\na,train set\n", ["line 2", "invalid split name"]),
        ("sample_id,9lives\na,1\n", ["cannot be a trait name"]),
        ("sample_id,modality\na,1\n", ["reserved"]),
        ("", ["is empty"]),
    ],
)
def test_errors_name_rows_and_columns(tmp_path, text, fragments):
    with pytest.raises(LabelsError) as info:
        read_labels(write(tmp_path, text))
    message = str(info.value)
    assert "labels.csv" in message
    for fragment in fragments:
        assert fragment in message


def test_non_utf8_names_the_line(tmp_path):
    with pytest.raises(LabelsError, match=r"line 3 is not valid UTF-8 \(byte 0xe9 at column 3\)"):
        read_labels(write(tmp_path, b"sample_id,lot\na,1\nb,\xe9t\xe9\n"))


def test_numeric_trait_must_stay_numeric(tmp_path):
    with pytest.raises(LabelsError, match="line 3, column 'oil': trait 'oil' is numeric in the catalog; got 'high'"):
        read_labels(write(tmp_path, "sample_id,oil\na,1\nb,high\n"), existing_kinds={"oil": "num"})
    labels = read_labels(write(tmp_path, "sample_id,colour\na,1\n"), existing_kinds={"colour": "text"})
    assert labels.trait_kinds["colour"] == "text" and labels.trait_value("colour", "1") == "1"


def test_missing_file(tmp_path):
    with pytest.raises(LabelsError, match="cannot read the labels CSV"):
        read_labels(tmp_path / "nope.csv")
