#!/usr/bin/env python3
"""Writes the hostile answer sheets of this folder (run it to regenerate them; the test suite reads
the files, and generates the ones too large or too oddly named to keep in git: see
tests/test_hostile_sheets.py). Every sheet is graded against the bundled `alexnet` spec.

The expected exit code of each sheet is in EXPECTED (tests/test_hostile_sheets.py): 2 for a file
that cannot be graded, 1 for a readable sheet that is simply wrong."""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
ESC = "\x1b"
HEAD = "Layer,C_out,H'/W',Mem (KB),Params (k),MACs (M)\n"
GOOD_ROW = "conv1,96,55,\"1,134\",35,105\n"

CSV: dict[str, str | bytes] = {
    # terminal control and format characters in every place a sheet can put them
    "ctrl_esc_in_layer.csv": HEAD + f"conv1{ESC}[2J{ESC}[31m,96,55,1134,35,105\n",
    "ctrl_esc_in_values.csv": HEAD + f"conv1,9{ESC}[2J6,55{ESC}]0;pwned{chr(7)},1134,35,105\n",
    "ctrl_esc_in_header.csv": f"Layer,C_out{ESC}[8m,H'/W'\nconv1,96,55\n",
    "ctrl_bell_backspace.csv": HEAD + "conv1\b\b\b\bfc8,96\x07,55\x7f,1134,35,105\n",
    "ctrl_bidi_override.csv": HEAD + "\u202econv1,\u202e69,55\u2066,1134,35,105\n",
    "ctrl_zero_width.csv": HEAD + "conv\u200b1,9\u200b6,5\u200d5,1\ufeff134,35,105\n",
    "ctrl_c1_controls.csv": HEAD + "conv1\x9b2J,96\x85,55,1134,35,105\n",
    "ctrl_line_separator.csv": HEAD + "conv1\u2028error: forged,96,55,1134,35,105\n",
    "ctrl_nul_byte.csv": (HEAD + "conv1,96,55,1134,35,105\n").encode() + b"\x00\x00",
    # spreadsheet formulas (CSV injection) in cells, layer names and headers
    "formula_cells.csv": HEAD + "conv1,=1+95,+55,@SUM(1),-2+3,=HYPERLINK(\"http://x\")\n",
    "formula_layer.csv": HEAD + "=cmd|' /C calc'!A0,96,55,1134,35,105\n",
    "formula_header.csv": "Layer,=C_out,@H'/W'\nconv1,96,55\n",
    "formula_dde.csv": HEAD + "conv1,\"=DDE(\"\"cmd\"\";\"\"/C calc\"\";\"\"A1\"\")\",55,1134,35,105\n",
    # numbers that are not numbers, or too large to handle naively
    "number_nan_inf.csv": HEAD + "conv1,nan,inf,-inf,NaN,Infinity\n",
    "number_exponent_bomb.csv": HEAD + "conv1,1e999999999,55,1e-999999999,35,9e9999999999\n",
    "number_huge_digits.csv": HEAD + "conv1," + "9" * 5000 + ",55,1134,35," + "1" * 4400 + "\n",
    "number_unicode_digits.csv": HEAD + "conv1,\uff19\uff16,\u0665\u0665,\u00b9\u00b9\u00b3\u2074,35,105\n",
    "number_hex_underscore.csv": HEAD + "conv1,0x60,5_5,1_134,0b100011,1.05e2\n",
    "number_units_garbage.csv": HEAD + "conv1,96 channels,55 px,1134 KBKBKB,35 kk,105 MMMM\n",
    "number_negative_zero.csv": HEAD + "conv1,-96,-0,-1134,-35,-105\n",
    "number_fractions.csv": HEAD + "conv1,96/1,55.0000000000000000001,1134.375000,34.944,105.4152\n",
    "number_long_decimal.csv": HEAD + "conv1,96." + "0" * 900 + "1,55,1134,35,105\n",
    "number_null_words.csv": HEAD + "conv1,NULL,None,N/A,\u2014,?\n",
    "number_hw_forms.csv": HEAD + "conv1,96,55x55x55,1134,35,105\npool1,96,27×28,273,0,1\n",
    # encodings and binary data
    "encoding_latin1.csv": (HEAD + "conv1,96,55,1134,35,105 caf\u00e9\n").encode("latin-1"),
    "encoding_utf16.csv": (HEAD + GOOD_ROW).encode("utf-16"),
    "encoding_utf8_bom_wrong.csv": "\ufeff" + HEAD + "conv1,69,55,1134,35,105\n",
    "encoding_overlong_utf8.csv": HEAD.encode() + b"conv1,\xc0\xb9\xc0\xb6,55,1134,35,105\n",
    "encoding_lone_surrogate.csv": HEAD.encode() + b"conv1,\xed\xa0\x80,55,1134,35,105\n",
    "binary_png.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
    "binary_zip.csv": b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 4,
    "binary_random.csv": bytes((i * 7919 + 13) % 256 for i in range(4096)),
    "binary_fake.xlsx": b"PK\x03\x04 not really a workbook " + bytes(range(1, 200)),
    # CSV structure
    "csv_empty.csv": "",
    "csv_blank_lines.csv": "\n\n   \n\t\n",
    "csv_header_only.csv": HEAD,
    "csv_unterminated_quote.csv": HEAD + "conv1,\"96,55,1134,35,105\n",
    "csv_quoted_newlines.csv": HEAD + "\"conv\n1\",\"9\n6\",55,1134,35,105\n",
    "csv_semicolons.csv": HEAD.replace(",", ";") + "conv1;96;55;1134;35;105\n",
    "csv_tabs.csv": HEAD.replace(",", "\t") + "conv1\t96\t55\t1134\t35\t105\n",
    "csv_cr_only.csv": (HEAD + GOOD_ROW).replace("\n", "\r"),
    "csv_ragged_rows.csv": HEAD + "conv1,96\npool1,96,27,273,0,1,extra,cells,here\n,,,,\n",
    "csv_duplicate_headers.csv": "Layer,C_out,C_out,Layer\nconv1,96,69,pool1\n",
    "csv_duplicate_rows.csv": HEAD + "conv1,96,55,1134,35,105\nconv1,69,55,1134,35,105\n",
    "csv_too_many_columns.csv": "Layer," + ",".join(f"c{i}" for i in range(400)) + "\nconv1," + "1," * 400 + "\n",
    "csv_no_layer_column.csv": "C_out,H'/W'\n96,55\n",
    "csv_unknown_columns.csv": "Name,Answer,Grade\nconv1,96,A+\n",
    "csv_unknown_layers.csv": HEAD + "conv99,96,55,1134,35,105\n\u0441onv1,96,55,1134,35,105\n",
    "csv_long_header.csv": "Layer," + "C_out" * 2000 + "\nconv1,96\n",
}

YAML: dict[str, str | bytes] = {
    "yaml_python_object.yaml": "conv1: !!python/object/apply:os.system ['touch /tmp/cnncalc_pwned']\n",
    "yaml_python_name.yaml": "!!python/name:os.system\n",
    "yaml_python_module.yaml": "conv1: {c_out: !!python/module:os}\n",
    "yaml_custom_tags.yaml": "conv1: {c_out: !!binary aGVsbG8=, hw_out: !!timestamp 2001-12-14, memory_kb: !!set {a}}\n",
    "yaml_unknown_tag.yaml": "conv1: !Evil {c_out: 96}\n",
    "yaml_billion_laughs.yaml": "\n".join(
        ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        + [f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(8)]
        + ["conv1: {c_out: *i}"]) + "\n",
    "yaml_alias_chain.yaml": "x0: &x0 [1]\n" + "".join(f"x{i}: &x{i} [*x{i - 1}, *x{i - 1}]\n" for i in range(1, 40))
    + "conv1: {c_out: *x39}\n",
    "yaml_merge_keys.yaml": "base: &b {c_out: 96, hw_out: 55}\nconv1: {<<: *b, memory_kb: 1134}\npool1: {<<: [*b, *b]}\n",
    "yaml_deep_block.yaml": "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v\n",
    "yaml_deep_flow.yaml": "conv1: " + "[" * 5000 + "]" * 5000 + "\n",
    "yaml_deep_mapping_flow.yaml": "conv1: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "yaml_explicit_keys.yaml": "? " * 2000 + "a\n",
    "yaml_scalar.yaml": "just a string\n",
    "yaml_list.yaml": "- conv1\n- 96\n- 55\n",
    "yaml_null.yaml": "~\n",
    "yaml_empty.yaml": "",
    "yaml_syntax_error.yaml": "conv1: {c_out: 96\npool1: [\n",
    "yaml_tabs.yaml": "conv1:\n\tc_out: 96\n",
    "yaml_duplicate_keys.yaml": "conv1: {c_out: 96}\nconv1: {c_out: 69}\n",
    "yaml_multi_document.yaml": "conv1: {c_out: 96}\n---\nconv1: {c_out: 69}\n",
    "yaml_ctrl_chars.yaml": "\"conv1\\e[2J\\e[31m\": {c_out: \"9\\e]0;pwned\\a6\", hw_out: \"\\u202e55\"}\n"
    "\"\\0\": {c_out: 1}\n",
    "yaml_nan_inf.yaml": "conv1: {c_out: .nan, hw_out: .inf, memory_kb: -.inf, params_k: 1e400, macs_m: 0x69}\n",
    "yaml_huge_int.yaml": "conv1: {c_out: " + "9" * 5000 + ", macs_m: " + "1" * 4300 + "}\n",
    "yaml_wrong_types.yaml": "conv1: {c_out: [96], hw_out: {h: 55}, memory_kb: true, params_k: null, macs_m: 2001-12-14}\n",
    "yaml_long_key.yaml": "conv" + "1" * 20000 + ": {c_out: 96}\n",
    "yaml_booleans.yaml": "yes: {c_out: no}\non: {c_out: off}\n",
    "yaml_latin1.yaml": "conv1: {c_out: 96}  # caf\u00e9\n".encode("latin-1"),
    "yaml_nul.yaml": b"conv1: {c_out: 96}\x00\n",
    "yaml_wrong_answers.yml": "conv1: {c_out: 69, hw_out: 56, memory_kb: 1, params_k: 2, macs_m: 3}\n",
    # a list or mapping where a flow mapping's number check looks for `name: 1,134` (a key '134')
    "yaml_flow_mapping_key.yaml": "conv1: {c_out: 96, {a: 1}: 4, params_k: 35}\n",
    "yaml_flow_list_key_before_number.yaml": "conv1: {c_out: 96, [1]: 2, 134: }\n",
    "yaml_raw_escape_in_comment.yaml": "conv1: {c_out: 96}  # \x1b[2J\x1b]0;pwned\x07\n",
    "yaml_formula_values.yaml": "conv1: {c_out: \"=1+95\", hw_out: \"@55\", memory_kb: \"+1134\"}\n"
    "\"=cmd|' /C calc'!A0\": {c_out: 96}\n",
}


def main() -> None:
    for name, content in {**CSV, **YAML}.items():
        path = HERE / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
    print(f"wrote {len(CSV) + len(YAML)} sheets to {HERE}")


if __name__ == "__main__":
    main()
