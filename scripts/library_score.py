#!/usr/bin/env python3
"""Scores a defect library (defects.csv: frame,x,y,class,...) against the simulator's truth
(truth_defects.csv: frame,defect_id,x,y,state): each found defect is matched to the nearest true
defect of its frame within 4 px; prints matched,unmatched,classes,ARI,per-class purity (one CSV
row, for scripts/library_lowdose_check.sh). ARI from scikit-learn, independent of AtomTrack's."""
import csv, sys
from collections import Counter, defaultdict
from sklearn.metrics import adjusted_rand_score

found, truth = sys.argv[1], sys.argv[2]
by_frame = defaultdict(list)
for r in csv.DictReader(open(truth)):
    by_frame[int(r["frame"])].append((float(r["x"]), float(r["y"]), r["state"]))
pred, true, unmatched = [], [], 0
for r in csv.DictReader(open(found)):
    x, y = float(r["x"]), float(r["y"])
    cands = [(abs(x - tx) ** 2 + abs(y - ty) ** 2, s) for tx, ty, s in by_frame[int(r["frame"])]]
    d2, state = min(cands, default=(1e9, None))
    if d2 > 16:
        unmatched += 1
        continue
    pred.append(r["class"]); true.append(state)
classes = sorted(set(pred))
purity = []
for c in classes:
    counts = Counter(t for p, t in zip(pred, true) if p == c)
    purity.append(f"{c}:{counts.most_common(1)[0][0]}={counts.most_common(1)[0][1]}/{sum(counts.values())}")
print(f"{len(pred)},{unmatched},{len(classes)},{adjusted_rand_score(true, pred):.3f},{' '.join(purity)}")
