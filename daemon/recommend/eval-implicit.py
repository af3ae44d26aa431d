# spoor recommend eval's other side: the `implicit` library's ALS on the same training preferences, with the same
# factors, regularisation, iterations and confidence, answering the same users (docs/recommendations.md#evaluation).
#
# Input (argv[1], JSON): {"train": [[user, item, strength], ...], "users": [user, ...], "rank", "regParam",
# "iterations", "alpha", "n"}. Output (stdout, JSON): {"version", "fitSeconds", "recommendMicros", "top": {user: [item, ...]}}.
import json
import sys
import time

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

import implicit
from implicit.cpu.als import AlternatingLeastSquares


def main():
    with open(sys.argv[1]) as f:
        task = json.load(f)
    users = sorted({u for u, _, _ in task["train"]})
    items = sorted({i for _, i, _ in task["train"]})
    user_row = {u: k for k, u in enumerate(users)}
    item_col = {i: k for k, i in enumerate(items)}
    rows = [user_row[u] for u, _, _ in task["train"]]
    cols = [item_col[i] for _, i, _ in task["train"]]
    # implicit's confidence is the matrix value itself (times its alpha, left at 1); Spark's is 1 + alpha * strength.
    values = [1.0 + task["alpha"] * s for _, _, s in task["train"]]
    user_items = sp.csr_matrix((values, (rows, cols)), shape=(len(users), len(items)), dtype=np.float32)
    model = AlternatingLeastSquares(
        factors=task["rank"], regularization=task["regParam"], alpha=1.0, iterations=task["iterations"],
        use_cg=False, use_native=True, num_threads=0, random_state=1)
    # Its solver on every core, as Spark's local[*]; BLAS on one thread beside it, as implicit advises.
    with threadpool_limits(limits=1):
        started = time.perf_counter()
        model.fit(user_items, show_progress=False)
        fit = time.perf_counter() - started
        top = {}
        asked = [u for u in task["users"] if u in user_row]
        started = time.perf_counter()
        for u in asked:
            ids, _ = model.recommend(user_row[u], user_items[user_row[u]], N=task["n"], filter_already_liked_items=True)
            top[u] = [items[i] for i in ids]
        per = (time.perf_counter() - started) / max(1, len(asked)) * 1e6
    json.dump({"version": implicit.__version__, "fitSeconds": fit, "recommendMicros": per, "top": top}, sys.stdout)


main()
