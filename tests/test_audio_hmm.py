import itertools

import numpy as np
import pytest
import torch
from hmmlearn.hmm import GaussianHMM

from twostep.autoencoders import AudioConvVAE
from twostep.core.seeds import stage_seed
from twostep.data import frame_signal, load_clarinet, overlap_add, synth_clarinet
from twostep.evaluation.audio import (
    average_log_spectrum,
    log_spectral_distance,
    pitch_report,
    pitch_track,
    spectral_flatness,
)
from twostep.experiments.clarinet_hmm import generate_pieces, real_pieces
from twostep.joint import JointHMMVAE, chunk_frames, hmm_log_likelihood
from twostep.nn.training import train_model
from twostep.priors import HMMPrior
from twostep.priors.hmm import TRANSITION_PSEUDOCOUNT, kmeans_start


def test_framing_then_overlap_add_reconstructs_the_signal():
    x = np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    frames = frame_signal(x, 800, 400)
    assert frames.shape == (19, 800)
    y = overlap_add(frames, 400)
    # the periodic Hann window's half-overlapped copies sum to one: exact away from the two ends
    np.testing.assert_allclose(y[400:-400], x[400 : len(y) - 400], atol=1e-5)


def test_synthesiser_plays_in_tune_notes_in_two_octaves():
    y, notes = synth_clarinet(6.0, 8000, low_midi=50, octaves=2, seed=3)
    assert len(y) == 48000 and np.all((notes >= 50) & (notes <= 74))
    report = pitch_report(y, 8000)
    assert report["voiced_fraction"] > 0.9 and report["in_tune_fraction"] > 0.95


@pytest.mark.parametrize("midi", [50, 57, 64, 69, 76, 81])  # D3 to A5: the clarinet's range here
@pytest.mark.parametrize("offset_cents", [0.0, 40.0])
def test_pitch_tracker_finds_known_pitches_within_5_cents(midi, offset_cents):
    # a harmonic tone of known pitch; pYIN's pitch bins are a tenth of a semitone apart, on the notes
    f = 440.0 * 2 ** ((midi - 69 + offset_cents / 100) / 12)
    t = np.arange(24000) / 8000
    y = np.sin(2 * np.pi * f * t) + 0.5 * np.sin(2 * np.pi * 2 * f * t) + 0.3 * np.sin(2 * np.pi * 3 * f * t)
    f0, voiced = pitch_track(y, 8000)
    assert voiced.mean() > 0.95
    error = 1200 * np.log2(f0[voiced] / f)
    assert np.max(np.abs(error)) <= 5.0, f"{f:.1f} Hz tracked with errors up to {np.max(np.abs(error)):.1f} cents"
    report = pitch_report(y, 8000)
    assert report["in_tune_fraction"] == (1.0 if offset_cents == 0 else 0.0)
    assert abs(report["mean_abs_cents"] - offset_cents) <= 5.0
    assert report["note_change_rate"] == 0.0  # one held note
    assert report["median_note_seconds"] >= 0.9 * 3.0  # the whole 3 s (less the tracker's first frames)


def test_pitch_report_of_pieces_counts_no_change_across_their_ends():
    t = np.arange(16000) / 8000
    a, b = (np.sin(2 * np.pi * f * t) + 0.5 * np.sin(4 * np.pi * f * t) for f in (220.0, 330.0))  # two 2-s notes
    joined, pieces = pitch_report(np.concatenate([a, b]), 8000), pitch_report([a, b], 8000)
    assert joined["note_change_rate"] > 0 and pieces["note_change_rate"] == 0.0
    assert pieces["median_note_seconds"] >= 0.9 * 2.0 and pieces["voiced_fraction"] > 0.95
    assert pitch_report([a], 8000) == pitch_report(a, 8000)


def test_measured_pieces_real_and_generated():
    test, train = [np.full(800, 1.0), np.full(800, 2.0)], [np.full(1600, 3.0), np.full(800, 4.0)]
    chosen = real_pieces(test, train, seconds=0.3, sample_rate=8000)  # 2,400 samples: the held-out files, then one more
    assert [p[0] for p in chosen] == [1.0, 2.0, 3.0]
    assert len(real_pieces(test, train, seconds=0.01, sample_rate=8000)) == 1  # one file at least
    torch.manual_seed(0)
    vae = AudioConvVAE(frame=200, latent_dim=3, channels=(2, 2), kernel=20)
    prior = HMMPrior.from_params(*random_hmm(d=3, seed=2))
    pieces = generate_pieces({"m": (vae, prior)}, n_pieces=3, piece_frames=5, hop=100, seed=0)["m"]
    assert len(pieces) == 3 and all(len(p) == 4 * 100 + 200 and p.std() == pytest.approx(1.0, rel=1e-5) for p in pieces)
    assert not np.allclose(pieces[0], pieces[1])  # independent segments
    again = generate_pieces({"m": (vae, prior)}, n_pieces=3, piece_frames=5, hop=100, seed=0)["m"]
    assert all(np.array_equal(a, b) for a, b in zip(pieces, again))


def test_pitch_report_counts_note_changes_and_calls_noise_unvoiced():
    y, notes = synth_clarinet(8.0, 8000, note_length=0.5, seed=1)
    report = pitch_report(y, 8000)
    expected = np.sum(notes[1:] != notes[:-1]) / 8.0  # changes per second
    assert report["voiced_fraction"] > 0.9
    assert abs(report["note_change_rate"] - expected) <= 0.25 * expected
    lengths = np.diff(np.flatnonzero(np.append(np.append(True, notes[1:] != notes[:-1]), True))) * 0.5
    assert abs(report["median_note_seconds"] - np.median(lengths)) <= 0.25 * np.median(lengths)
    noise = pitch_report(np.random.default_rng(0).standard_normal(16000))
    assert noise["voiced_fraction"] < 0.1


def test_average_log_spectrum_matches_a_direct_fft_average():
    # Welch's average against the mean of |FFT|^2 of Hann-windowed frames, both in dB, levels removed
    y, _ = synth_clarinet(2.0, seed=4)
    y = y + 1e-3 * np.random.default_rng(0).standard_normal(len(y)).astype(np.float32)  # no bin at the floor
    direct = 10 * np.log10((np.abs(np.fft.rfft(frame_signal(y, 512, 256), axis=1)) ** 2).mean(0))
    welch_db = average_log_spectrum(y, 512, 256)
    # Welch's one-sided spectrum doubles every bin but DC and Nyquist: compare those in between
    inner = slice(1, -1)
    np.testing.assert_allclose(welch_db[inner] - welch_db[inner].mean(), direct[inner] - direct[inner].mean(), atol=0.05)


def test_log_spectral_distance_ignores_level_and_sees_timbre():
    y, _ = synth_clarinet(2.0, seed=0)
    assert log_spectral_distance(y, 3 * y) == pytest.approx(0.0, abs=1e-3)  # up to the spectrum floor
    assert log_spectral_distance(y, np.random.default_rng(0).standard_normal(len(y))) > 5


def noise_with_the_average_spectrum_of(y: np.ndarray, seed: int = 0) -> np.ndarray:
    """White noise filtered by ``y``'s average spectrum (Welch's, as the log-spectral distance takes
    it), over the whole signal at once: a broadband smear whose time-averaged spectrum is ``y``'s."""
    amplitude = 10 ** (average_log_spectrum(y) / 20)  # 257 bins from 0 to 4 kHz
    noise = np.random.default_rng(seed).standard_normal(len(y))
    spectrum = np.fft.rfft(noise)
    gain = np.interp(np.linspace(0, 1, len(spectrum)), np.linspace(0, 1, len(amplitude)), amplitude)
    return np.fft.irfft(spectrum * gain, n=len(y))


def test_spectral_flatness_tells_notes_from_a_noise_with_their_average_spectrum():
    """What a distance between time-averaged spectra cannot see (the clarinet chapter's joint model
    from random is a broadband smear): clean notes and a noise shaped to their average spectrum are
    close by the log-spectral distance and far apart frame by frame."""
    notes, _ = synth_clarinet(4.0, seed=1)
    smear = noise_with_the_average_spectrum_of(notes)
    white = np.random.default_rng(1).standard_normal(len(notes))
    assert log_spectral_distance(notes, smear) < 0.5 * log_spectral_distance(notes, white)
    assert spectral_flatness(notes) < 0.05 and spectral_flatness(white) > 0.4
    assert spectral_flatness(smear) > 10 * spectral_flatness(notes)
    # pieces are pooled frame by frame; silence counts for nothing, and a level change is nothing
    padded = np.concatenate([np.zeros(8192), notes])  # whole hops of silence: the same frames after it
    assert spectral_flatness([padded, 5 * notes]) == pytest.approx(spectral_flatness(notes), rel=0.05)
    # an independent reference: the flatness of one frame from its power spectrum, by hand
    import librosa

    power = np.abs(librosa.stft(notes[4000:4512], n_fft=512, hop_length=256, center=False))[:, 0] ** 2
    power = np.maximum(power, 1e-10)
    by_hand = np.exp(np.mean(np.log(power))) / np.mean(power)
    assert spectral_flatness(notes[4000:4512]) == pytest.approx(by_hand, rel=1e-4)


def test_clarinet_data_loads_at_8khz_with_unit_std(shared_data):
    xs = load_clarinet(8000)
    assert len(xs) == 40
    assert all(abs(x.std() - 1) < 1e-3 for x in xs)
    assert 3.5 * 8000 <= min(len(x) for x in xs) and max(len(x) for x in xs) <= 8 * 8000  # 3.7 to 7.6 s
    assert pitch_report(xs[0])["in_tune_fraction"] > 0.8


def test_audio_vae_maps_frames_to_80d_codes_and_back():
    vae = AudioConvVAE(800, 80, channels=(4, 8), kernel=200)
    x = torch.randn(3, 800)
    x_hat, mu, logvar = vae(x)
    assert x_hat.shape == (3, 800) and mu.shape == (3, 80)
    assert vae.decode(vae.encode(x.numpy())).shape == (3, 800)


def random_hmm(k=3, d=2, seed=0):
    rng = np.random.default_rng(seed)
    start = rng.dirichlet(np.ones(k))
    trans = rng.dirichlet(np.ones(k), size=k)
    means = 3 * rng.standard_normal((k, d))
    variances = rng.uniform(0.3, 2.0, (k, d))
    return start, trans, means, variances


def test_forward_algorithm_equals_hmmlearn_score():
    start, trans, means, variances = random_hmm()
    ref = GaussianHMM(3, covariance_type="diag")
    ref.n_features = 2
    ref.startprob_, ref.transmat_, ref.means_, ref.covars_ = start, trans, means, variances
    seqs = np.random.default_rng(1).standard_normal((4, 25, 2)) * 2
    ours = hmm_log_likelihood(torch.as_tensor(seqs), torch.as_tensor(np.log(start)), torch.as_tensor(np.log(trans)),
                              torch.as_tensor(means), torch.as_tensor(np.log(variances)))
    np.testing.assert_allclose(ours.numpy(), [ref.score(s) for s in seqs], rtol=1e-10)
    prior = HMMPrior.from_params(start, trans, means, variances)
    np.testing.assert_allclose(prior.log_prob(seqs), [ref.score(s) for s in seqs], rtol=1e-10)


def test_baum_welch_increases_the_likelihood_and_recovers_states():
    start, trans, means, variances = random_hmm(seed=2)
    true = HMMPrior.from_params(start, trans, means, variances)
    seqs = [true.sample(200, seed=s) for s in range(5)]
    fitted = {impl: HMMPrior(3, n_iter=50, tol=1e-6, implementation=impl, random_state=0).fit(seqs)
              for impl in ("scaling", "log")}
    history = list(fitted["scaling"].model_.monitor_.history)
    assert all(b >= a - 1e-6 for a, b in zip(history, history[1:]))
    found = fitted["scaling"].model_.means_
    for m in means:
        assert np.min(np.linalg.norm(found - m, axis=1)) < 0.5
    a, b = (fitted[i].log_prob(seqs).sum() for i in ("scaling", "log"))
    assert a == pytest.approx(b, rel=1e-6)  # the two implementations give the same fit
    s = fitted["scaling"].sample(30, seed=0)
    assert s.shape == (30, 2)
    np.testing.assert_array_equal(s, fitted["scaling"].sample(30, seed=0))


def test_baum_welch_restarts_keep_the_most_likely_fit():
    start, trans, means, variances = random_hmm(seed=2)
    seqs = [HMMPrior.from_params(start, trans, means, variances).sample(60, seed=s) for s in range(3)]
    single = HMMPrior(6, n_iter=30, tol=1e-6, random_state=0).fit(seqs)
    multi = HMMPrior(6, n_iter=30, tol=1e-6, n_init=4, random_state=0).fit(seqs)
    lls = multi.init_log_likelihoods_
    assert len(lls) == 4 and len(set(lls)) > 1  # the restarts start differently
    assert lls[0] == single.init_log_likelihoods_[0]  # the first restart is the plain fit
    assert multi.model_.monitor_.history[-1] == max(lls) == multi.log_likelihood_  # the API: no hmmlearn internals
    np.testing.assert_array_equal(multi.model_.means_, HMMPrior(6, n_iter=30, tol=1e-6, n_init=4, random_state=0)
                                  .fit(seqs).model_.means_)  # deterministic


def test_kmeans_start_counts_every_parameter_from_one_partition():
    # Three clusters far apart (1-d, around -10, 0 and 10): k-means finds them exactly, so every
    # parameter can be counted by hand from the known labels.
    rng = np.random.default_rng(0)
    labels = [np.array([0, 0, 1, 1, 1, 2, 2, 0]), np.array([2, 2, 2, 1, 0, 0])]
    centres = np.array([-10.0, 0.0, 10.0])
    x = np.concatenate([centres[l] + rng.standard_normal(len(l)) for l in labels])[:, None]
    start = kmeans_start(x, [8, 6], 3, random_state=0, min_covar=1e-3)
    order = np.argsort(start["means"][:, 0])  # the k-means clusters, in the order of the centres
    flat = np.concatenate(labels)
    starts, trans = np.zeros(3), np.zeros((3, 3))
    for seq in labels:
        starts[seq[0]] += 1
        for a, b in itertools.pairwise(seq):
            trans[a, b] += 1
    starts, trans = starts + TRANSITION_PSEUDOCOUNT, trans + TRANSITION_PSEUDOCOUNT
    np.testing.assert_allclose(start["startprob"][order], starts / starts.sum())
    np.testing.assert_allclose(start["transmat"][np.ix_(order, order)], trans / trans.sum(1, keepdims=True))
    np.testing.assert_allclose(start["means"][order, 0], [x[flat == k, 0].mean() for k in range(3)])
    np.testing.assert_allclose(start["variances"][order, 0], [x[flat == k, 0].var() + 1e-3 for k in range(3)])


def test_hmm_prior_fits_from_the_kmeans_start():
    start, trans, means, variances = random_hmm(seed=2)
    seqs = [HMMPrior.from_params(start, trans, means, variances).sample(80, seed=s) for s in range(4)]
    x, lengths = np.concatenate(seqs), [len(s) for s in seqs]
    fitted = HMMPrior(3, n_iter=30, tol=1e-6, init="kmeans", random_state=0).fit(seqs)
    first = HMMPrior.from_params(*kmeans_start(x, lengths, 3, random_state=0, min_covar=1e-3).values())
    # Baum-Welch's first E-step scores the data under the starting parameters
    assert fitted.model_.monitor_.history[0] == pytest.approx(first.log_prob(seqs).sum(), rel=1e-9)
    history = list(fitted.model_.monitor_.history)
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(history))
    assert np.max(np.abs(np.sort(fitted.model_.means_[:, 0]) - np.sort(means[:, 0]))) < 0.5
    hmmlearn = HMMPrior(3, n_iter=30, tol=1e-6, random_state=0).fit(seqs)
    assert hmmlearn.model_.monitor_.history[0] != pytest.approx(history[0])  # the two starts differ
    with pytest.raises(ValueError, match="init"):
        HMMPrior(3, init="random")


def test_log_prob_survives_frames_the_scaled_forward_pass_underflows_on():
    from scipy.stats import norm

    prior = HMMPrior.from_params(np.ones(1), np.ones((1, 1)), np.zeros((1, 1)), np.full((1, 1), 0.01))
    far = np.array([[0.0], [5.0]])  # 50 standard deviations: exp(-1250) is 0 in float64
    with pytest.raises(ValueError, match="underflow"):
        prior.model_.score(far)  # hmmlearn's scaled pass
    expected = norm.logpdf([0.0, 5.0], scale=0.1).sum()
    assert prior.log_prob([far])[0] == pytest.approx(expected, rel=1e-9)
    near = np.array([[0.0], [0.1]])
    assert prior.log_prob([near])[0] == prior.model_.score(near)  # no fallback where the scaled pass works


def test_segments_restart_an_hmm_that_would_stay_in_an_absorbing_state():
    # State 0 starts every sequence and leads to state 1, which never leaves.
    start, trans = np.array([1.0, 0.0]), np.array([[0.5, 0.5], [0.0, 1.0]])
    means, variances = np.array([[-5.0], [5.0]]), np.full((2, 1), 0.01)
    prior = HMMPrior.from_params(start, trans, means, variances)
    long = prior.sample(100, seed=0)
    assert (long[20:] > 0).all()  # one long sample is stuck at the end state
    codes = prior.sample_segments(100, 8, seed=3)
    assert codes.shape == (100, 1)
    # segment j draws from the run seed's "segment" stage j (twostep.core.seeds)
    np.testing.assert_array_equal(codes[:8], prior.sample(8, seed=stage_seed(3, "segment", 0)))
    np.testing.assert_array_equal(codes[96:], prior.sample(8, seed=stage_seed(3, "segment", 12))[:4])  # the 13th, cut short
    assert (codes[::8] < 0).all()  # every segment starts again in state 0
    np.testing.assert_array_equal(codes, prior.sample_segments(100, 8, seed=3))


def test_joint_hmm_vae_starts_from_two_step_and_trains_every_parameter():
    rng = np.random.default_rng(0)
    frames = [np.tanh(rng.standard_normal((12, 64))).astype(np.float32) for _ in range(4)]
    torch.manual_seed(0)
    vae = AudioConvVAE(64, 4, channels=(2, 4), kernel=16)
    codes = [vae.encode(f) for f in frames]
    prior = HMMPrior(3, n_iter=5, random_state=0).fit(codes)
    joint = JointHMMVAE.from_two_step(vae, prior)
    np.testing.assert_allclose(joint.prior().log_prob(codes), prior.log_prob(codes), rtol=1e-4)
    before = {n: p.detach().clone() for n, p in joint.named_parameters()}
    chunks = chunk_frames(frames, 6)
    assert chunks.shape == (8, 6, 64)
    history = train_model(joint, joint.loss, chunks, epochs=15, batch_size=4, lr=1e-2, progress=False)
    assert np.isfinite(history).all() and history[-1] < history[0]
    for name in ("start_logits", "trans_logits", "means", "logvars"):
        assert not torch.equal(before[name], getattr(joint, name)), f"{name} was not trained"
    random = JointHMMVAE.random_init(AudioConvVAE(64, 4, channels=(2, 4), kernel=16), 3, seed=0)
    assert torch.isfinite(random.loss(torch.as_tensor(chunks[:2])))


def test_synthetic_audio_keys_its_cached_models_by_the_seeds_its_files_were_drawn_with():
    # The cached audio VAE's key holds AudioData.config: a change in how file seeds are derived must change the key,
    # or a model trained on other audio would be loaded.
    from twostep.experiments.clarinet_hmm import audio_data

    kwargs = dict(sample_rate=4000, frame=128, hop=64, n_test_files=1, n_synth_files=3)
    data = audio_data("synth", seed=5, **kwargs)
    seeds = data.config["file_seeds"]
    assert len(set(seeds)) == 3
    np.testing.assert_array_equal(data.train_audio[0], synth_clarinet(6.0, 4000, seed=seeds[0])[0])
    assert audio_data("synth", seed=6, **kwargs).config["file_seeds"] != seeds
    assert "file_seeds" not in audio_data("files", seed=5, **{**kwargs, "sample_rate": 8000}).config


def test_an_hmm_prior_reports_how_long_a_state_lasts_and_what_its_fit_printed():
    """A state with self-transition p lasts 1 / (1 - p) frames (geometric durations): the mean over
    states of such a chain, checked on sampled runs of states; the chapter's description of a fit
    names its restarts' log-likelihoods and the kept one."""
    from twostep.experiments.clarinet_hmm import hmm_description

    trans = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.25, 0.25, 0.5]])
    prior = HMMPrior.from_params(np.full(3, 1 / 3), trans, np.eye(3) * 5, np.full((3, 3), 0.1))
    assert prior.mean_state_frames_ == pytest.approx(1 / (1 - np.mean([0.9, 0.8, 0.5])))
    _, states = prior.model_.sample(20000, random_state=0)
    runs = np.diff(np.flatnonzero(np.diff(np.r_[-1, states, -1]) != 0))
    per_state = [runs[states[np.r_[0, np.cumsum(runs)[:-1]]] == k].mean() for k in range(3)]
    np.testing.assert_allclose(per_state, [10, 5, 2], rtol=0.15)  # 1 / (1 - p) for each state
    assert np.isnan(prior.log_likelihood_)  # not fitted by Baum-Welch
    start, trans, means, variances = random_hmm(seed=2)
    seqs = [HMMPrior.from_params(start, trans, means, variances).sample(60, seed=s) for s in range(3)]
    fits = [HMMPrior(3, n_iter=5, n_init=2, random_state=r).fit(seqs) for r in (0, 1)]
    text = hmm_description(fits[0], fits[1], restarts=2, seconds=1.25, other_start="elsewhere")
    assert f"last log-likelihood {fits[0].log_likelihood_:.1f}" in text and "(1.2 s in all)" in text
    assert text.splitlines()[1].startswith("the same from elsewhere: last log-likelihood")
    assert "\n" not in hmm_description(fits[0], restarts=2, seconds=1.0)
