# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Interactive thresholds and bandwidths
#
# Two panels from `adskit.widgets`, driven by cached arrays (a slider never retrains anything):
#
# * **Bandwidth explorer**: how the KDE bandwidth *h* and the regulariser *eps* shape the batch-uniformization
#   (BU) weights, and where they degenerate (to uniform weights: BU becomes SNP; or onto a few points).
# * **Threshold explorer**: three autoencoders trained with the RE, SNP and BU costs, scored on normal test
#   clips (frequent process, and the *rare-but-normal* warm-up process) and on anomalous clips. One slider sets
#   the target false-alarm rate ρ; each method's threshold is then its own φ_ρ (Neyman-Pearson, fitted on
#   held-out normal clips). Watch the false alarms on rare-normal clips per method.
# * **Weights diagnostic**: whether BU's weights single out the rare-normal training vectors at all.
# * **Your detector, from the commands** (section 7): the threshold explorer on a model directory of `adskit fit`
#   and a scores CSV of `adskit score`, loaded as they are (nothing retrains).
#
# **Two users.** A lecturer runs it top to bottom on the synthetic default (`DATA_DIR = None`); an analyst sets
# `DATA_DIR` to a folder of their own recordings (layout below), and `MODEL_DIR` / `SCORES_CSV` to what the
# commands wrote (section 7).
#
# **Presentation mode** (the notebook without code, for a class):
# `voila notebooks/04_interactive_thresholds.ipynb` (from the repository root, with the `ui` extra installed),
# then open the address it prints.

# %% tags=["parameters"]
FAST = True  # tiny data and short training (about a minute on 2 CPU cores); False: the lecture-sized run
SEED = 0
DATA_DIR = None  # None: the synthetic default; or a folder with train/ (normal clips) and test/ (see section 2)
MODEL_DIR = None  # section 7: a model directory of `adskit fit` (None, with SCORES_CSV None: a demo one)
SCORES_CSV = None  # section 7: the CSV `adskit score MODEL_DIR ... --out scores.csv` wrote with that model
FRAMES_DIR = None  # section 7, optional: the `--frames` folder of the same `adskit score` run

# %%
# %matplotlib inline
import numpy as np
import torch
from IPython.display import display

from adskit import seed_everything
from adskit.bandwidth import weight_share
from adskit.experiments.analyst_results import demo_results, scoreset_from_results
from adskit.experiments.thresholds import LECTURE_RARITY, build_scoreset, lecture_clips, training_vectors
from adskit.experiments.verification import make_ring_data
from adskit.threshold import NeymanPearsonThreshold
from adskit.widgets import bandwidth_explorer, threshold_explorer

seed_everything(SEED)
torch.set_num_threads(1)  # these networks are small: one thread is faster than two competing ones

# %% [markdown]
# ## 1 · The bandwidth explorer on the 2-D example
#
# Normal points fill a disc of radius 2 with density 1/(4π‖x‖): dense in the middle, rare near the rim
# (the paper's verification experiment). BU weights every point by the inverse of its KDE density, so the rim
# counts as much as the centre. Move *h*: too small and every point sees only itself (the Gram matrix is the
# identity, all weights equal); too large and every point sees all others (all ones, again equal weights).

# %%
ring = make_ring_data(400, 0.0, 2.0, random_state=SEED)
bw_ring = bandwidth_explorer(ring, h=0.2)
display(bw_ring)

# %% [markdown]
# ## 2 · Clips, and three detectors trained on them (once: then cached)
#
# `adskit.experiments.thresholds.build_scoreset` does the data work of this lecture; its docstring lists the
# steps, in short:
#
# * **Clips.** *Synthetic default*: one machine ("fan") from `adskit.audio.synth`, made as in the rare-normal
#   experiment (`adskit rare`): a rare process with its own harmonic series fills exactly `LECTURE_RARITY` = 2 %
#   of the normal training seconds, half of the normal test clips hold it (the manifest records its segments),
#   test anomalies are knocks, rubs, whines and speed changes. *Your recordings* (WAV, FLAC, OGG..., any rate):
#   `DATA_DIR/train/` holds normal clips; `DATA_DIR/test/` labelled clips, named as the commands read them
#   (`normal_*` / `anomaly_*`, `abnormal_*`, DCASE 2021+ `section_00_..._anomaly_...`); a normal test clip with the
#   word `rare` in its name is tagged rare-normal, the others frequent-normal. Files without a label, unreadable,
#   silent or too short are listed and left out. SNP and BU also need "something else" sounds as stand-in
#   anomalies: the synthetic generator's bursts, clicks, chirps and tones.
# * **Features.** Log-mel context vectors (64 mel bands, 5 frames).
# * **Hold-out.** One quarter of the normal training clips is held out: the Neyman-Pearson threshold φ_ρ is
#   fitted on their scores, not on the clips the networks saw (those score too low, and a threshold fitted on
#   them would raise more false alarms than promised).
# * **Training and scores.** One autoencoder per cost (RE, SNP, BU) on the other training clips; every test
#   clip and every held-out clip is scored by each.
# * **Cache.** Scores and detectors land in a cache folder named after the data (every file's name, size, time and
#   content), the settings and the adskit version; the next run of the notebook loads them in a second, and
#   says so. Change a recording and it trains again.
#
# First what the folder holds now, as the kit reads it (files it cannot use are listed with the reason):

# %%
clips = lecture_clips(DATA_DIR, fast=FAST, seed=SEED, progress=False)
test_recs = clips["test"]
print(f"{len(clips['train'])} normal training clips, {len(test_recs)} test clips:",
      {p: sum(r["process"] == p for r in test_recs) for p in ("frequent", "rare", "anomaly")})  # fmt: skip
for b in clips["bad"]:
    print(f"left out ({b['role']}): {b['path']}: {b['reason']}")

# %%
scoreset, detectors = build_scoreset(DATA_DIR, fast=FAST, seed=SEED)
if scoreset.n_clips != len(test_recs):
    raise RuntimeError(f"the scores hold {scoreset.n_clips} clips, the folder {len(test_recs)}: rerun this cell")
print(f"{scoreset.n_clips} test clips:", {p: scoreset.process.count(p) for p in ("frequent", "rare", "anomaly")},
      f"| φ_ρ is fitted on {len(scoreset.train_scores['RE'])} held-out normal clips")  # fmt: skip
if DATA_DIR is None:
    print(f"rare-normal process: {LECTURE_RARITY:.0%} of the training seconds")

# %% [markdown]
# ## 3 · The threshold explorer
#
# The table counts clips (a clip is anomalous when one of its frames is: the maximum rule). The plot shows the
# selected clip's frame scores per method, with the frames above φ dotted and the rare-normal segment shaded
# orange.
#
# **What to look for.** The BU paper's motivation is that RE, trained on the mean score, learns rare normal
# sounds poorly and fires on them, and that BU, which weights rare training vectors up, does not. The
# rare-normal experiment measured it on this kind of data (`adskit rare --quick --seeds 0 1 2 3 4`: fan,
# fcn40-small AEs, 1,500 updates, thresholds at ρ = 5 % on frequent-normal calibration clips; mean [95 %
# interval] over the five seeds):
#
# * **RE fires on rare-normal sound.** At this notebook's rarity, 2 %, every cost raised 4-6 % false alarms on
#   held-out frequent-normal frames, as set; RE raised 29 % [22, 35] on rare-normal frames and 37 % on
#   rare-normal clips (at 0.5 %: 50 % [44, 56] of the frames, 56 % of the clips).
# * **SNP and BU fire less on it, and detect less.** At 2 %, on rare-normal frames SNP 16 %, BU 13 %; on
#   rare-normal clips SNP 9 %, BU 11 % (BU with the median-heuristic bandwidth, as here). But on anomalous
#   clips, at the same thresholds, RE detected 59 %, SNP 37 %, BU 29 %.
# * **Most of the gain is SNP's, not BU's weights'.** SNP is BU with uniform weights, so BU - SNP is the
#   weights' own effect: no difference was detected in 16 of 18 paired comparisons. The exceptions, both at
#   2 %: BU (median heuristic) had fewer rare-frame false alarms than SNP, by 0.031 [0.005, 0.058]; BU with an
#   ESS-target bandwidth had more rare-clip false alarms than SNP, by 0.230 [0.092, 0.368]. Section 4 shows why.
#
# SNP's and BU's scores are spiky (short high peaks everywhere), RE's smooth and high over the whole rare
# segment: look at a rare-normal clip. Your run differs from the experiment: the front end here has 64 mel
# bands x 5 frames, φ_ρ is fitted on held-out *training* clips, and the slider starts at ρ = 0.1 (set it to
# 0.05 to match). On the FAST path the networks are tiny (300 updates) and the test set small, so the counts
# show how to read the panel, not the result; `FAST = False` trains at lecture size.

# %%
panel = threshold_explorer(scoreset, rho=0.1)
display(panel)

# %% [markdown]
# ## 4 · Weights diagnostic: does BU single out the rare vectors?
#
# BU can only spare the rare-normal sound through its weights w ∝ 1/p̂(x) if its kernel density estimate
# finds the rare training vectors rarer than the frequent ones. Two numbers for the BU detector:
#
# * **ESS / B** = 1 / (B Σ w²), its effective sample size per batch, averaged over its training updates
#   (`det.history_["ess"]`): 1 = uniform weights, lower = weight concentrated on fewer vectors;
# * **rare weight share**: the weight its KDE (at its bandwidth `h_` and `eps`, on the standardised vectors
#   it saw, `kde_input`) gives the rare-normal vectors of a batch, over their share of the batch
#   (`adskit.bandwidth.weight_share`, on 16 random batches of `batch_size` fit vectors).
#
# In `adskit rare --quick` (seeds 0-4) ESS / B was 0.37-0.47, far from uniform, but the rare weight share only
# 1.25-1.46: in the 440-dimensional context vectors the KDE barely finds the rare vectors rarer, so BU
# behaves much like SNP.

# %%
bu = detectors["BU"]
print(f"BU: mean ESS / B over its {bu.n_updates_} training updates = {np.nanmean(bu.history_['ess']):.2f} "
      "(1 = uniform weights)")  # fmt: skip
X_fit, rare_fit = training_vectors(DATA_DIR, fast=FAST, seed=SEED, n=None, return_rare=True, progress=False)
if rare_fit is None:
    print("rare weight share: no rare-normal segments are known for a folder of recordings")
elif not rare_fit.any():
    print("rare weight share: none of the fit clips holds the rare process")
else:
    z, rng = bu.kde_input(X_fit), np.random.default_rng(SEED)
    rows = [rng.choice(len(z), min(bu.batch_size, len(z)), replace=False) for _ in range(16)]
    share = weight_share([z[r] for r in rows], float(bu.h_), [rare_fit[r] for r in rows], eps=float(bu.eps))
    print(f"rare weight share = {share:.2f} ({rare_fit.mean():.1%} of the fit vectors are rare-normal): the weight "
          "on the rare vectors over their share of the batch; 1 = as with uniform weights, i.e. BU = SNP")  # fmt: skip

# %% [markdown]
# ## 5 · Does the false-alarm promise hold on new normal clips?
#
# φ_ρ was fitted on held-out normal training clips; `NeymanPearsonThreshold.check` counts the frequent-normal
# and the rare-normal *test* clips above it, each with a Clopper-Pearson interval for the true false-alarm
# rate. The promise is about sound like the held-out clips (mostly frequent); a check that fails on the
# rare-normal clips is the rare-normal false alarm of section 3.

# %%
process = np.array(scoreset.process)
for m in scoreset.methods:
    t = NeymanPearsonThreshold(0.1).fit(scoreset.train_scores[m])
    for p in ("frequent", "rare"):
        if not (process == p).any():
            continue
        c = t.check(scoreset.clip_scores(m)[process == p])
        print(f"{m}: {c['n_false_positives']}/{c['n']} {p}-normal test clips above phi_0.1 -> FPR {c['fpr']:.2f} "
              f"(95% CI {c['ci_low']:.2f}-{c['ci_high']:.2f}): {c['verdict']}")  # fmt: skip

# %% [markdown]
# ## 6 · The analyst's bandwidth check on real feature vectors
#
# The BU detector chose *h* by the median heuristic on standardised vectors. Here are 300 of the log-mel
# context vectors it was trained on (drawn on their first two principal components) at that bandwidth: is the
# Gram matrix neither the identity nor all ones?

# %%
batch = training_vectors(DATA_DIR, fast=FAST, seed=SEED, n=300)
bw_feat = bandwidth_explorer(batch, h=bu.h_, eps=bu.eps, standardize=(bu.mean_, bu.scale_))
display(bw_feat)

# %% [markdown]
# ## 7 · Your detector, from the commands
#
# The analyst's path trains once and scores later, from a terminal:
#
# ```
# adskit fit --normal my_normal_recordings/ --out my_model          # a model directory, with calibration scores
# adskit score my_model new_recordings/ --frames frames/ --out scores.csv
# ```
#
# Set `MODEL_DIR`, `SCORES_CSV` (and `FRAMES_DIR` for the time plots) in the first cell to open them here:
# `adskit.experiments.analyst_results.scoreset_from_results` reads the files as they are, nothing retrains.
# The ρ slider fits φ_ρ on the model's stored calibration clip scores (held-out normal recordings), so at any ρ
# it is the threshold `adskit score --rho` would apply. Labels come from the file names, read as every command
# reads them (`normal_*` / `anomaly_*`, DCASE and MIMII names; `rare` in a normal name marks rare-normal):
# labelled files give the false alarms, detections and ROC; files without a label (new recordings) are kept as
# "unlabelled": the panel counts how many alarm and leaves them out of every rate. Rows with an error are left out
# and listed (a `file,label` CSV, as `adskit evaluate --labels` takes, is the function's `labels` argument).
#
# With both left at `None` this cell makes a small demo once with the kit's own functions, the same calls as the
# two commands (`fit_model` with the RE cost and ρ = 0.1, `score_files` with frames), on the lecture clips of
# section 2, into the data folder; a later run loads it, and says which it did. The lecture's test clip names
# do not say which hold the rare-normal process, so here every normal clip counts as frequent-normal.

# %%
if MODEL_DIR is None and SCORES_CSV is None:
    demo = demo_results(fast=FAST, seed=SEED)
    model_dir, scores_csv, frames_dir = demo["model_dir"], demo["scores_csv"], demo["frames_dir"]
    how = "made" if demo["made"] else "loaded"
    print(f"{how} the demo results (fit + score on the lecture clips) in {demo['folder']}")
elif MODEL_DIR is None or SCORES_CSV is None:
    raise ValueError("set both MODEL_DIR and SCORES_CSV (or neither, for the demo)")
else:
    model_dir, scores_csv, frames_dir = MODEL_DIR, SCORES_CSV, FRAMES_DIR
    print(f"loaded your results: model {model_dir}, scores {scores_csv}, frames {frames_dir}")
results = scoreset_from_results(model_dir, scores_csv, frames_dir)
m = results.methods[0]
print(f"{results.n_clips} files:", {p: results.process.count(p) for p in ("frequent", "rare", "anomaly", "unlabelled")},
      f"| φ_ρ is fitted on the model's {len(results.train_scores[m])} calibration clip scores")  # fmt: skip
for b in results.info["left_out"]:
    print(f"left out: {b['path']}: {b['reason']}")
rho0 = results.info["default_rho"]
same = (results.clip_scores(m) > results.phi_rho(m, rho0)).astype(int) == np.array(results.info["csv_decisions"])
phi0 = results.phi_rho(m, rho0)
print(f"at the model's default ρ = {rho0:g}, φ_ρ = {phi0:.4g} decides {same.sum()} of {same.size} files as the "
      "CSV's decision column does" + ("" if same.all() else " (the CSV was scored at another --rho)"))  # fmt: skip
panel_results = threshold_explorer(results, rho=rho0)
display(panel_results)

# %% [markdown]
# The false alarms the panel's threshold raises on the normal files of the CSV, with a 95 % Clopper-Pearson
# interval (`NeymanPearsonThreshold.check`). With K calibration clips φ_ρ promises k / (K + 1), k = max(⌊ρK⌋, 1):
# never less than 1 / (K + 1), whatever ρ asks. Move the slider and run this cell again.

# %%
rho = panel_results.state["rho"]
t = NeymanPearsonThreshold(rho).fit(results.train_scores[m])
c = t.check(results.clip_scores(m)[results.labels == 0])  # the normal files (unlabelled ones are in no rate)
K = t.n_fit_
promise = max(int(np.floor(rho * K)), 1) / (K + 1)  # what K exchangeable calibration clips promise at this ρ
print(f"{m} at the panel's ρ = {rho:.3g}: φ_ρ = {t.threshold_:.4g} from K = {K} calibration clips promises "
      f"{promise:.3f}; {c['n_false_positives']}/{c['n']} normal files above it -> realised false-alarm rate "
      f"{c['fpr']:.2f} (95% CI {c['ci_low']:.2f}-{c['ci_high']:.2f}): {c['verdict']} for ρ")  # fmt: skip
print({"holds": "ρ lies in the interval: these files show no sign that the promise is broken",
       "conservative": "the whole interval lies below ρ: fewer false alarms than promised",
       "violated": "the whole interval lies above ρ: more false alarms than ρ (new files unlike the calibration "
                   "clips, or a ρ below what K clips can promise)"}[c["verdict"]])  # fmt: skip
if promise > rho:
    print(f"ρ = {rho:.3g} is below 1/(K+1) = {1 / (K + 1):.3f}: {K} calibration clips cannot promise it")
