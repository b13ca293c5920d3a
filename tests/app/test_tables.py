"""Tables as the page shows them: a reference row's missing figures are empty cells, not "None"."""

import math

import pandas as pd

from ui.tables import number_columns


def test_a_column_with_a_missing_cell_is_text_in_its_format_with_the_cell_empty():
    table = pd.DataFrame(
        {"model": ["cnn", "always 'pos'"], "accuracy": [0.6954, 0.5], "temperature": [1.2345, None]}
    )
    shown, config = number_columns(table, {"accuracy": ("%.3f", None), "temperature": ("%.2f", "T")})
    assert list(shown["temperature"]) == ["1.23", ""]
    assert config["temperature"]["type_config"]["type"] == "text"
    assert config["temperature"]["help"] == "T"
    # a complete column stays a number column (sortable), formatted by the grid
    assert config["accuracy"]["type_config"]["type"] == "number"
    assert config["accuracy"]["type_config"]["format"] == "%.3f"
    assert list(shown["accuracy"]) == [0.6954, 0.5]
    assert math.isnan(table["temperature"][1])  # the CSV download keeps the table as it was
