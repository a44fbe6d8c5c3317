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
#
# **Two users.** A lecturer runs it top to bottom on the synthetic default (`DATA_DIR = None`); an analyst sets
# `DATA_DIR` to a folder of their own recordings (layout below).
#
# **Presentation mode** (the notebook without code, for a class):
# `voila notebooks/04_interactive_thresholds.ipynb` (from the repository root, with the `ui` extra installed),
# then open the address it prints.

# %% tags=["parameters"]
FAST = True  # tiny data and short training (about a minute on 2 CPU cores); False: the lecture-sized run
SEED = 0
DATA_DIR = None  # None: the synthetic default; or a folder with train/ (normal clips) and test/ (see section 2)

# %%
import torch
from IPython.display import display

from adskit import seed_everything
from adskit.experiments.thresholds import build_scoreset, training_vectors
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
# * **Clips.** *Synthetic default*: one machine ("fan") from `adskit.audio.synth`; about 12 % of the normal
#   clips hold the rare warm-up process (the manifest records its segment), test anomalies are knocks, rubs,
#   whines and speed changes. *Your recordings*: `DATA_DIR/train/` holds normal clips; in `DATA_DIR/test/`,
#   files whose name starts with `anomaly` are anomalous, names containing `rare` are tagged rare-normal, the
#   rest frequent-normal (WAV, FLAC, OGG...). SNP and BU also need "something else" sounds as stand-in
#   anomalies: the synthetic generator's bursts, clicks, chirps and tones.
# * **Features.** Log-mel context vectors (64 mel bands, 5 frames).
# * **Hold-out.** One quarter of the normal training clips is held out: the Neyman-Pearson threshold φ_ρ is
#   fitted on their scores, not on the clips the networks saw (those score too low, and a threshold fitted on
#   them would raise more false alarms than promised).
# * **Training and scores.** One autoencoder per cost (RE, SNP, BU) on the other training clips; every test
#   clip and every held-out clip is scored by each.
# * **Cache.** Scores and detectors land in a cache folder named after the data, the settings and the adskit
#   version; the next run of the notebook loads them in a second.

# %%
scoreset, detectors = build_scoreset(DATA_DIR, fast=FAST, seed=SEED)
print(f"{scoreset.n_clips} test clips:", {p: scoreset.process.count(p) for p in ("frequent", "rare", "anomaly")},
      f"| φ_ρ is fitted on {len(scoreset.train_scores['RE'])} held-out normal clips")  # fmt: skip

# %% [markdown]
# ## 3 · The threshold explorer
#
# The table counts clips (a clip is anomalous when one of its frames is: the maximum rule). The plot shows the
# selected clip's frame scores per method, with the frames above φ dotted and the rare-normal segment shaded
# orange. **What to look for**: the paper's claim is that RE, trained on the mean, scores the rare warm-up high
# and raises false alarms on rare-normal clips, while BU, which weights rare training frames up, keeps them
# down at the same ρ. Read the counts your run produced: on the FAST path the networks are tiny and the test
# set holds three rare-normal clips, so the pattern may not show; `FAST = False` trains at lecture size.

# %%
panel = threshold_explorer(scoreset, rho=0.1)
display(panel)

# %% [markdown]
# ## 4 · Does the false-alarm promise hold on new normal clips?
#
# φ_ρ was fitted on held-out normal clips; `NeymanPearsonThreshold.check` counts the normal *test* clips above
# it and gives a Clopper-Pearson interval for the true false-alarm rate.

# %%
normal = scoreset.labels == 0
for m in scoreset.methods:
    t = NeymanPearsonThreshold(0.1).fit(scoreset.train_scores[m])
    c = t.check(scoreset.clip_scores(m)[normal])
    print(f"{m}: {c['n_false_positives']}/{c['n']} normal test clips above phi_0.1 -> FPR {c['fpr']:.2f} "
          f"(95% CI {c['ci_low']:.2f}-{c['ci_high']:.2f}): {c['verdict']}")  # fmt: skip

# %% [markdown]
# ## 5 · The analyst's bandwidth check on real feature vectors
#
# The BU detector chose *h* by the median heuristic on standardised vectors. Here are 300 of the log-mel
# context vectors it was trained on (drawn on their first two principal components) at that bandwidth: is the
# Gram matrix neither the identity nor all ones?

# %%
bu = detectors["BU"]
batch = training_vectors(DATA_DIR, fast=FAST, seed=SEED, n=300)
bw_feat = bandwidth_explorer(batch, h=bu.h_, eps=bu.eps, standardize=(bu.mean_, bu.scale_))
display(bw_feat)
