#!/usr/bin/env python3
"""Generates src/text/unicode_tables.c from rust_chartable.json (the measured per-code-point
behaviour of Hugging Face's Rust BertNormalizer / BertPreTokenizer).

usage: python3 tools/gen_unicode_tables.py [CHARTABLE] [OUT]
  CHARTABLE  default ../shared/fixtures/tokenizer/rust_chartable.json
  OUT        default src/text/unicode_tables.c

Tables written (ranges sorted by code point, looked up by binary search):
  uni_clean   clean_text: DROP (NUL, U+FFFD, Cc/Cf/Co except \\t\\n\\r) or SPACE (White_Space)
  uni_fold_uncased  strip_accents + lowercase (NFD, drop Mn, lowercase), measured from Rust
  uni_fold_lower    lowercase only: measured where NFD is the identity, else Python's lower()
  uni_fold_strip    strip_accents only: Python NFD, then drop the code points Rust treats as Mn
  uni_punct, uni_space  BertPreTokenizer punctuation / whitespace, measured from Rust
CJK padding uses the fixed Rust ranges in src/text/normalize.c; the generator checks them here.
Plain python3 standard library only.
"""
import json
import sys
import unicodedata

CJK_RANGES = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
              (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3
CLEAN_CATEGORIES = ("Cc", "Cf", "Co")


def is_cjk(cp):
    return any(a <= cp <= b for a, b in CJK_RANGES)


def hangul_decompose(cp):
    s = cp - HANGUL_FIRST
    out = [0x1100 + s // 588, 0x1161 + (s % 588) // 28]
    if s % 28:
        out.append(0x11A7 + s % 28)
    return out


def is_scalar(cp):
    return not 0xD800 <= cp <= 0xDFFF


def load(path):
    with open(path, encoding="utf-8") as f:
        table = json.load(f)
    per_cp = {}
    for first, last, kind, out in table["normalize"]:
        for cp in range(first, last + 1):
            per_cp[cp] = (kind, out)
    return table, per_cp


def split_measured(per_cp):
    """Splits the measured uncased table into clean_text entries and fold (strip+lower) entries."""
    clean, fold, mn = {}, {}, set()
    for cp, (kind, out) in per_cp.items():
        if kind == "space":
            clean[cp] = ("SPACE", None)
        elif kind == "drop":
            if cp in (0, 0xFFFD) or unicodedata.category(chr(cp)) in CLEAN_CATEGORIES:
                clean[cp] = ("DROP", None)
            else:
                mn.add(cp)
                fold[cp] = ("DROP", None)
        elif kind == "cjk":
            if not is_cjk(cp):
                sys.exit(f"U+{cp:04X}: padded as CJK but outside the Rust ranges")
        elif kind == "map":
            if is_cjk(cp):
                if len(out) != 3 or out[0] != 32 or out[2] != 32:
                    sys.exit(f"U+{cp:04X}: CJK char without padding: {out}")
                out = out[1:2]
            fold[cp] = ("MAP", out)
        else:
            sys.exit(f"unknown kind {kind}")
    for a, b in CJK_RANGES:
        for cp in range(a, b + 1):
            kind = per_cp.get(cp, ("keep", None))[0]
            if kind not in ("cjk", "map"):
                sys.exit(f"U+{cp:04X}: in a CJK range but measured as {kind}")
    return clean, fold, mn


def derived_lower():
    fold = {}
    for cp in range(0x110000):
        if is_scalar(cp):
            out = [ord(c) for c in chr(cp).lower()]
            if out != [cp]:
                fold[cp] = ("MAP", out)
    return fold


def lower_from_measured(fold_lower, fold_uncased, fold_strip, clean):
    """Where NFD leaves a code point alone, the measured uncased result IS its lowercase:
    prefer it to Python's (older or newer) case tables."""
    for cp in range(0x110000):
        if not is_scalar(cp) or cp in clean or cp in fold_strip:
            continue
        measured = fold_uncased.get(cp)
        if measured is None:
            fold_lower.pop(cp, None)
        elif measured[0] == "MAP":
            fold_lower[cp] = measured


def derived_strip(mn):
    fold = {}
    for cp in range(0x110000):
        if not is_scalar(cp):
            continue
        out = [ord(c) for c in unicodedata.normalize("NFD", chr(cp)) if ord(c) not in mn]
        if out != [cp]:
            fold[cp] = ("DROP", None) if not out else ("MAP", out)
    return fold


def check_composition(fold_uncased, fold_lower, fold_strip, clean):
    """Counts code points where lower(strip(c)) from the derived tables differs from the measured table."""
    def apply(fold, seq):
        res = []
        for cp in seq:
            kind, out = fold.get(cp, ("KEEP", None))
            res += [] if kind == "DROP" else (out if kind == "MAP" else [cp])
        return res
    bad = []
    for cp in range(0x110000):
        if not is_scalar(cp) or cp in clean:
            continue
        want = apply(fold_uncased, [cp])
        got = apply(fold_lower, apply(fold_strip, [cp]))
        if want != got:
            bad.append(cp)
    return bad


def to_ranges(fold, seq_out):
    """Turns {cp: (kind, out)} into merged ranges: DROP runs, DELTA runs (single output, same
    offset), HANGUL (algorithmic syllable decomposition), SEQ (several outputs in seq_out)."""
    items = []
    for cp in sorted(fold):
        kind, out = fold[cp]
        if kind == "MAP" and HANGUL_FIRST <= cp <= HANGUL_LAST and out == hangul_decompose(cp):
            items.append([cp, cp, "HANGUL", 0, 0])
        elif kind == "DROP":
            items.append([cp, cp, "DROP", 0, 0])
        elif kind == "SPACE":
            items.append([cp, cp, "SPACE", 0, 0])
        elif len(out) == 1:
            items.append([cp, cp, "DELTA", 0, out[0] - cp])
        elif len(out) > 3:
            sys.exit(f"U+{cp:04X}: maps to {len(out)} code points (NORM_MAX_EXPANSION is 3)")
        elif len(out) == 0:
            items.append([cp, cp, "DROP", 0, 0])
        else:
            items.append([cp, cp, "SEQ", len(out), len(seq_out)])
            seq_out.extend(out)
    merged = []
    for it in items:
        prev = merged[-1] if merged else None
        if (prev and prev[1] + 1 == it[0] and prev[2] == it[2] and it[2] != "SEQ"
                and prev[4] == it[4]):
            prev[1] = it[0]
        else:
            merged.append(it)
    return merged


def pair_ranges(pairs):
    out = []
    for a, b in sorted(pairs):
        if out and out[-1][1] + 1 >= a:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def emit_ranges(lines, name, ranges):
    lines.append(f"static const uni_range {name}_data[] = {{")
    for first, last, kind, length, arg in ranges:
        lines.append(f"    {{0x{first:X}, 0x{last:X}, UNI_{kind}, {length}, {arg}}},")
    lines.append("};")
    lines.append(f"const uni_table {name} = {{{name}_data, {len(ranges)}}};")
    lines.append("")


def emit_pairs(lines, name, pairs):
    lines.append(f"static const uni_range {name}_data[] = {{")
    for a, b in pairs:
        lines.append(f"    {{0x{a:X}, 0x{b:X}, UNI_MATCH, 0, 0}},")
    lines.append("};")
    lines.append(f"const uni_table {name} = {{{name}_data, {len(pairs)}}};")
    lines.append("")


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "../shared/fixtures/tokenizer/rust_chartable.json"
    dst = sys.argv[2] if len(sys.argv) > 2 else "src/text/unicode_tables.c"
    table, per_cp = load(src)
    clean, fold_uncased, mn = split_measured(per_cp)
    fold_lower = derived_lower()
    fold_strip = derived_strip(mn)
    lower_from_measured(fold_lower, fold_uncased, fold_strip, clean)
    bad = check_composition(fold_uncased, fold_lower, fold_strip, clean)
    print(f"derived lower(strip(c)) differs from the measured table for {len(bad)} code points"
          + (": " + " ".join(f"U+{cp:04X}" for cp in bad[:20]) if bad else ""))
    seq = []
    lines = ["/* GENERATED by tools/gen_unicode_tables.py from rust_chartable.json: do not edit.",
             " * Per-code-point tables of Hugging Face's Rust BertNormalizer / BertPreTokenizer;",
             f" * uni_fold_lower / uni_fold_strip are derived from Python's Unicode {unicodedata.unidata_version}",
             " * (lowercase only / NFD minus the measured Mn set), the rest is measured. */",
             '#include "text/unicode_tables.h"', ""]
    emit_ranges(lines, "uni_clean", to_ranges(clean, seq))
    emit_ranges(lines, "uni_fold_uncased", to_ranges(fold_uncased, seq))
    emit_ranges(lines, "uni_fold_lower", to_ranges(fold_lower, seq))
    emit_ranges(lines, "uni_fold_strip", to_ranges(fold_strip, seq))
    emit_pairs(lines, "uni_punct", pair_ranges(table["pretok_punct"]))
    emit_pairs(lines, "uni_space", pair_ranges(table["pretok_space"]))
    lines.append(f"const uint32_t uni_seq[{len(seq)}] = {{")
    for i in range(0, len(seq), 10):
        lines.append("    " + ", ".join(f"0x{c:X}" for c in seq[i:i + 10]) + ",")
    lines.append("};")
    lines.append(f"const size_t uni_seq_len = {len(seq)};")
    with open(dst, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {dst}: {len(seq)} sequence code points")


if __name__ == "__main__":
    main()
