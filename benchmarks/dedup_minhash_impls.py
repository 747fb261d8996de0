"""Which MinHash implementation: ours (numpy, batch) vs rensa vs datasketch vs datatrove.

    python -m benchmarks.dedup_minhash_impls [--docs 2000] [--repeat 3]

Same documents (real en + zh pages from ../shared/data, cycled to ``--docs``), 120 permutations.
Two timings per implementation, best of ``--repeat``:
- ``text->sig``: from raw text to signature, each with its own tokenisation/shingling
  (datatrove: its English spaCy word tokenizer + xxhash; rensa/datasketch: our tokens joined into
  5-gram strings, which is how they are fed in practice);
- ``shingles->sig``: signature only, from precomputed shingles (our uint32 hashes; strings for rensa
  and datasketch, as their APIs take bytes/str).
Agreement: mean |estimated J - true J| over 200 near-duplicate pairs (edited copies) per library.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any, Callable

import numpy as np

from benchmarks.dedup_data import real_pages
from benchmarks.dedup_quality import edited_copy
from dedup.minhash import MinhashConfig, compute_signatures
from dedup.shingles import is_cjk, jaccard_sorted, shingle_sets, tokenize

NUM_PERM = 120


def shingle_strings(text: str, lang: str) -> list[str]:
    cjk = is_cjk(lang, text)
    toks = tokenize(text, cjk)
    n = 5
    if len(toks) < n:
        return [" ".join(toks)] if toks else []
    return [" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1)]


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    pages = real_pages()
    docs = [pages[i % len(pages)] for i in range(args.docs)]
    texts, langs = [d["text"] for d in docs], [d["lang"] for d in docs]
    cfg = MinhashConfig(num_perm=NUM_PERM, bands=20, rows=6)
    strings = [shingle_strings(t, l) for t, l in zip(texts, langs)]
    values, offsets = shingle_sets(texts, langs, 5, 5)

    import rensa
    from datasketch import MinHash
    from datatrove.pipeline.dedup.minhash import MinhashConfig as DTConfig, MinhashDedupSignature

    dt = MinhashDedupSignature("/tmp/unused-dt-sigs", config=DTConfig(n_grams=5, num_buckets=20, hashes_per_bucket=6), language="en")

    def rensa_sig(ss: list[str]) -> Any:
        m = rensa.RMinHash(num_perm=NUM_PERM, seed=1)
        m.update(ss)
        return m

    def datasketch_sig(ss: list[str]) -> Any:
        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch([s.encode() for s in ss])
        return m

    rows = []
    t_text, _ = best(lambda: compute_signatures(*shingle_sets(texts, langs, 5, 5), cfg), args.repeat)
    t_sig, _ = best(lambda: compute_signatures(values, offsets, cfg), args.repeat)
    rows.append(("ours (numpy batch)", t_text, t_sig))
    t_sig, _ = best(lambda: [rensa_sig(s) for s in strings], args.repeat)
    t_text, _ = best(lambda: [rensa_sig(shingle_strings(t, l)) for t, l in zip(texts, langs)], args.repeat)
    rows.append(("rensa RMinHash", t_text, t_sig))
    t_sig, _ = best(lambda: [datasketch_sig(s) for s in strings], max(1, args.repeat - 2))
    t_text, _ = best(lambda: [datasketch_sig(shingle_strings(t, l)) for t, l in zip(texts, langs)], max(1, args.repeat - 2))
    rows.append(("datasketch update_batch", t_text, t_sig))
    dt_sh = [dt.get_shingles(t) for t in texts]
    t_sig, _ = best(lambda: [dt.get_signature(s) for s in dt_sh if len(s)], args.repeat)
    t_text, _ = best(lambda: [dt.get_signature(s) for s in (dt.get_shingles(t) for t in texts) if len(s)], max(1, args.repeat - 2))
    rows.append(("datatrove get_shingles+get_signature", t_text, t_sig))

    # accuracy on edited pairs
    rng = random.Random(0)
    base = [d for d in pages if len(tokenize(d["text"])) > 100][:200]
    pair_texts = [(d["text"], edited_copy(rng, d, rng.uniform(0, 0.06)), d["lang"]) for d in base]
    errs: dict[str, list[float]] = {"ours": [], "rensa": [], "datasketch": []}
    for a, b, lang in pair_texts:
        v, o = shingle_sets([a, b], [lang, lang], 5, 5)
        true_j = jaccard_sorted(v[o[0] : o[1]], v[o[1] : o[2]])
        sig = compute_signatures(v, o, cfg)
        errs["ours"].append(abs(float(np.mean(sig[0] == sig[1])) - true_j))
        sa, sb = shingle_strings(a, lang), shingle_strings(b, lang)
        errs["rensa"].append(abs(rensa_sig(sa).jaccard(rensa_sig(sb)) - true_j))
        errs["datasketch"].append(abs(datasketch_sig(sa).jaccard(datasketch_sig(sb)) - true_j))
    print(f"{args.docs} docs ({sum(len(s) for s in strings):,} shingles), {NUM_PERM} permutations, best of {args.repeat}")
    print(f"{'implementation':40} {'text->sig s':>12} {'docs/s':>9} {'shingles->sig s':>16}")
    for name, tt, ts in rows:
        print(f"{name:40} {tt:>12.2f} {args.docs / tt:>9.0f} {ts:>16.2f}")
    print("mean |estimated J - true J| on 200 edited pairs: " + ", ".join(f"{k} {np.mean(v):.3f}" for k, v in errs.items()))


if __name__ == "__main__":
    main()
