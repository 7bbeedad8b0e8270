#!/usr/bin/env python3
"""Compares position-σ laws offline on the samples `atomtrack calibrate --samples CSV` writes:
each law is fitted by maximum likelihood (2-D Gaussian errors, log σ = θ·x, Newton as in
`PositionSigmaLaw.fit`) per class and kind on the `fit` rows (groups of ≥ 200 atoms; fallback as
`PositionSigma.law`: class × kind, class pooled, kind pooled) and scored on the `held` rows: the
variance of error/σ per axis per class and dose (target 0.9–1.1).

  scripts/position_sigma_laws.py SAMPLES.csv [--card MODEL/model.json ...] [--choose-feature] [--laws raw f+sq+p ...]

A law is its terms besides 1 and log σ_raw, joined by "+" (f = the kind's frame feature: a fit's
class_sigma, a centroid's frame_signal, pooled kinds frame_signal):
  raw    none (the cards before session 10)      f      the kind's frame feature (session 10)
  cs, fs class_sigma, frame_signal               p      log(1 − class_prob)
  w      log(fit σ / spacing) (fits only)        sp     log(column spacing px)
  inter  f · log σ_raw (b moving with f)         hinge  max(0, f − median f) (saturation)
  sq     (f − f̄)² (curvature)                    sc     log(score)
  spline hinges at the 25/50/75 % quantiles of f
"""
import argparse, csv, json, math
import numpy as np

MIN_ATOMS = 200
CHOOSE = False   # --choose-feature: per law the frame feature closest to unit variance at every dose of the fit rows
FEATURE = {"fit": "class_sigma", "centroid": "frame_signal", "rejected": "frame_signal", "any": "frame_signal"}


def num(v):
    return float(v) if v not in ("", None) else math.nan


def load(path):
    rows = list(csv.DictReader(open(path)))
    d = {k: np.array([r[k] for r in rows]) for k in ("set", "class", "kind")}
    for k in ("dose", "item", "raw_px", "spacing_px", "frame_signal", "class_sigma", "score", "class_prob", "fit_sigma_px", "dx", "dy"):
        d[k] = np.array([num(r[k]) for r in rows])
    d["r2"] = d["dx"] ** 2 + d["dy"] ** 2
    if not any(r["kind"] == "rejected" for r in rows):
        # Samples written before the `rejected` kind: a centroid whose frame holds fits of its class had its own fit rejected.
        fitted = {(r["set"], r["dose"], r["item"], r["class"]) for r in rows if r["kind"] == "fit"}
        d["kind"] = np.array(["rejected" if r["kind"] == "centroid" and (r["set"], r["dose"], r["item"], r["class"]) in fitted
                              else r["kind"] for r in rows])
    return d


def columns(d, idx, kind, law, refs):
    """Design matrix rows for samples idx of a group of `kind`; refs: centring values (set on the fit rows)."""
    n = len(idx)
    lograw = np.log(d["raw_px"][idx])
    cols = [np.ones(n), lograw]
    def centred(name, values):
        if name not in refs:
            ok = np.isfinite(values)
            refs[name] = float(np.mean(values[ok])) if ok.any() else 0.0
        v = values - refs[name]
        return np.where(np.isfinite(v), v, 0.0)
    f = d[refs.get("feature") or FEATURE[kind]][idx]
    if "range" not in refs:   # f held inside the fit rows' 0.5–99.5 % range, as PositionSigmaLaw does
        ok = np.isfinite(f); refs["range"] = tuple(np.quantile(f[ok], [0.005, 0.995])) if ok.any() else (-np.inf, np.inf)
    f = np.clip(f, *refs["range"])
    for term in law.split("+"):
        if term == "raw": continue
        elif term == "f": cols.append(centred("f", f))
        elif term == "cs": cols.append(centred("cs", d["class_sigma"][idx]))
        elif term == "fs": cols.append(centred("fs", d["frame_signal"][idx]))
        elif term == "p": cols.append(centred("p", np.log(np.clip(1 - d["class_prob"][idx], 1e-4, 1))))
        elif term == "w": cols.append(centred("w", np.log(d["fit_sigma_px"][idx] / d["spacing_px"][idx])))
        elif term == "sc": cols.append(centred("sc", np.log(d["score"][idx])))
        elif term == "sp": cols.append(centred("sp", np.log(d["spacing_px"][idx])))
        elif term == "spline":  # piecewise linear in f: hinges at the fit rows' 25/50/75 % quantiles
            if "knots" not in refs:
                ok = np.isfinite(f); refs["knots"] = list(np.quantile(f[ok], [0.25, 0.5, 0.75])) if ok.any() else []
            for k in refs["knots"]: cols.append(np.where(np.isfinite(f), np.maximum(0, f - k), 0.0))
        elif term == "sq":      # curvature in the frame feature
            cols.append(centred("f", f) ** 2)
        elif term == "inter":   # the exponent b moving with the frame feature
            cols.append(centred("f", f) * (lograw - refs.setdefault("lograw", float(np.mean(lograw)))))
        elif term in ("hinge", "lowhinge"):   # a slope that changes at the fit rows' median feature (saturation)
            if "knee" not in refs:
                ok = np.isfinite(f); refs["knee"] = float(np.median(f[ok])) if ok.any() else 0.0
            side = f - refs["knee"] if term == "hinge" else refs["knee"] - f
            cols.append(np.where(np.isfinite(f), np.maximum(0, side), 0.0))
        else: raise SystemExit(f"unknown term {term}")
    return np.stack(cols, 1)


def fit(X, r2):
    """Newton on the convex negative log-likelihood Σ 2s + r²/2·e^{−2s}, s = Xθ, with PositionSigmaLaw's ridge."""
    n, k = X.shape
    ridge = 1e-3 * n
    prior = np.zeros(k); prior[1] = 1
    R = np.diag([0] + [ridge] * (k - 1))
    def nll(t):
        s = X @ t
        return np.sum(2 * s + r2 / 2 * np.exp(-2 * s)) + (t - prior) @ R @ (t - prior)
    t = prior.copy(); t[0] = 0.5 * math.log(max(1e-300, np.mean(r2 / np.exp(2 * X[:, 1])) / 2))
    cur = nll(t)
    for _ in range(100):
        w = r2 * np.exp(-2 * (X @ t))
        g = X.T @ (2 - w) + 2 * R @ (t - prior)
        H = (X * (2 * w)[:, None]).T @ X + 2 * R
        step = -np.linalg.solve(H, g)
        nxt = nll(t + step)
        while nxt > cur and np.abs(step).sum() > 1e-12:
            step /= 2; nxt = nll(t + step)
        if nxt > cur: break
        t = t + step
        done = cur - nxt < 1e-12 * max(1, abs(cur)); cur = nxt
        if done: break
    return t


def laws(d, law):
    fitrows = d["set"] == "fit"
    out = {}
    keys = set()
    for c, k in zip(d["class"][fitrows], d["kind"][fitrows]):
        keys |= {(c, k), (c, "any"), ("*", k)}
    for c, k in sorted(keys):
        m = fitrows & ((d["class"] == c) | (c == "*")) & ((d["kind"] == k) | (k == "any"))
        idx = np.nonzero(m)[0]
        if len(idx) < MIN_ATOMS: continue
        best = None
        for feature in ([FEATURE[k]] if not CHOOSE else ["class_sigma", "frame_signal"]):
            refs = {"feature": feature}
            X = columns(d, idx, k, law, refs)
            t = fit(X, d["r2"][idx]); z = d["r2"][idx] * np.exp(-2 * (X @ t)) / 2
            # The choice: the feature whose law is closest to unit variance at every dose of the fit rows.
            spread = sum(math.log(np.mean(z[d["dose"][idx] == dose])) ** 2 for dose in set(d["dose"][idx]))
            if best is None or spread < best[0]: best = (spread, t, refs)
        out[(c, k)] = (best[1], best[2])
    return out


def sigma(d, idx, fitted, law):
    s = np.full(len(idx), math.nan)
    for j, i in enumerate(idx):
        c, k = d["class"][i], d["kind"][i]
        for key in ((c, k), (c, "any"), ("*", k)):
            if key in fitted:
                t, refs = fitted[key]
                s[j] = math.exp(float(columns(d, np.array([i]), key[1], law, dict(refs))[0] @ t))
                break
        else:
            s[j] = d["raw_px"][i]
    return s


def card_sigma(d, idx, card):
    """σ of samples idx under a model card's laws (`positionCalibration`), read as `PositionSigmaLaw`
    and `PositionSigma.law` do: an independent check of the Swift code, and the "before" of old cards."""
    laws = {(l["outputClass"], l["kind"]): l for l in card["positionCalibration"]["laws"]}
    s = np.full(len(idx), math.nan)
    for j, i in enumerate(idx):
        c, k = d["class"][i], d["kind"][i]
        kinds = [k, "centroid"] if k == "rejected" else [k]
        law = next((laws[key] for key in [(c, kk) for kk in kinds] + [(c, "any")] + [("*", kk) for kk in kinds] if key in laws), None)
        if law is None: s[j] = d["raw_px"][i]; continue
        v = law["logScale"] + law["exponent"] * math.log(d["raw_px"][i])
        if law.get("frameFeature"):
            f = d["class_sigma" if law["frameFeature"] == "classSigma" else "frame_signal"][i]
            if np.isfinite(f):
                lo, hi = law.get("frameRange", [-math.inf, math.inf])
                g = min(max(f, lo), hi) - law["frameReference"]
                v += law.get("frameCoefficient", 0) * g + law.get("frameCurvature", 0) * g * g
        if law.get("probabilityCoefficient") is not None and np.isfinite(d["class_prob"][i]):
            q = math.log(max(1e-4, 1 - d["class_prob"][i]))
            v += law["probabilityCoefficient"] * (q - law["probabilityReference"])
        s[j] = math.exp(v)
    return s


def table(d, held, s):
    """Per class 'v/v/v' over the doses and how many cells lie within 0.9–1.1."""
    classes = sorted(set(d["class"][held])); doses = sorted(set(d["dose"][held]))
    cells, inside = [], 0
    for c in classes:
        vals = []
        for dose in doses:
            m = (d["class"][held] == c) & (d["dose"][held] == dose)
            v = float(np.mean(d["r2"][held][m] / s[m] ** 2) / 2) if m.any() else math.nan
            inside += 0.9 <= v <= 1.1
            vals.append(f"{v:.2f}")
        cells.append(f"{c} {'/'.join(vals)}")
    return f"{inside:2d} of {len(classes) * len(doses)} within 0.9–1.1 | " + " | ".join(cells)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("samples", nargs="+")
    p.add_argument("--laws", nargs="+", default=["raw", "f", "cs+fs", "f+p", "f+w", "f+hinge", "f+sp", "f+inter", "f+sp+inter"])
    p.add_argument("--set", default="held", help="rows to score (held, or fit to see the fit's own spread)")
    p.add_argument("--fit-feature", choices=["class_sigma", "frame_signal"], default="class_sigma", help="the fit kind's frame feature")
    p.add_argument("--card", nargs="*", default=[], help="model.json files whose laws to score too")
    p.add_argument("--choose-feature", action="store_true", help="per law the frame feature whose law is closest to unit variance at every dose of the fit rows")
    a = p.parse_args()
    global CHOOSE
    CHOOSE = a.choose_feature
    FEATURE["fit"] = a.fit_feature
    for path in a.samples:
        d = load(path)
        held = np.nonzero(d["set"] == a.set)[0]
        classes = sorted(set(d["class"][held])); doses = sorted(set(d["dose"][held]))
        print(f"{path}: {len(d['set'])} samples; variance of error/σ per axis on the {a.set} rows (class: dose …)")
        for card in a.card:
            print(f"  card {card}: " + table(d, held, card_sigma(d, held, json.load(open(card)))))
        for law in a.laws:
            print(f"  {law:6s} " + table(d, held, sigma(d, held, laws(d, law), law)))


if __name__ == "__main__":
    main()
